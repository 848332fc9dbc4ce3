"""No client waits forever on a silent provider: a JSON 504 when no answer comes, an end to a stalled stream.

mitmproxy itself bounds only how long a whole connection may idle (`inspector.idle_timeout`), and
then drops the client's connection without a word. Here a timer runs from the moment a request is
forwarded until the response headers arrive (`inspector.upstream_timeout`), and, for a streamed
answer, between two chunks (`inspector.stream_idle_timeout`). When one fires, the upstream
connection is closed; mitmproxy then takes its usual error path, which this addon turns into a
timeout: the flow's error says which limit was hit, and a client still waiting for headers gets a
504 in place of the 502 (`daemon.error_pages`). A stream already under way just ends, as if the
provider had cut it, which the router's translators and SDKs already handle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from mitmproxy import ctx, http

from ccproxy.daemon.error_pages import answer_as_timeout
from ccproxy.flows.meta import get_meta

log = logging.getLogger("ccproxy.timeouts")

TIMED_OUT = "upstream_timeout"  # key in `.ccproxy.extra` while a flow's timeout is being reported


class UpstreamTimeouts:
    """Late on the request side (the flow is about to leave), early on the error side (before the recorder)."""

    def __init__(self, response_timeout: float, stream_idle_timeout: float) -> None:
        self.response_timeout = response_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.master: Any = None

    def running(self) -> None:
        self.master = ctx.master

    # -- timers ------------------------------------------------------------------------------------
    def _arm(self, flow: http.HTTPFlow, seconds: float, reason: str) -> None:
        self._disarm(flow)
        self.timers[flow.id] = asyncio.get_running_loop().call_later(seconds, self._expire, flow, reason)

    def _disarm(self, flow: http.HTTPFlow) -> None:
        timer = self.timers.pop(flow.id, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, flow: http.HTTPFlow, reason: str) -> None:
        self.timers.pop(flow.id, None)
        if not flow.live:
            return
        server_task = self._server_task(flow)
        if server_task is None:
            log.warning("flow %s: %s, but its upstream connection is already gone", flow.id[:8], reason)
            return
        get_meta(flow).extra[TIMED_OUT] = reason
        log.warning("flow %s: %s; closing the upstream connection", flow.id[:8], reason)
        server_task.cancel(f"ccproxy: {reason}")

    def _server_task(self, flow: http.HTTPFlow) -> asyncio.Task[Any] | None:
        """The task that reads the flow's upstream connection (mitmproxy's connection handler)."""
        proxyserver = self.master.addons.get("proxyserver") if self.master is not None else None
        handler = getattr(proxyserver, "connections", {}).get(flow.client_conn.id)
        io = getattr(handler, "transports", {}).get(flow.server_conn) if handler is not None else None
        task = getattr(io, "handler", None)
        return task if isinstance(task, asyncio.Task) and not task.done() else None

    # -- events ------------------------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None and self.response_timeout:
            self._arm(flow, self.response_timeout,
                      f"no response headers within {self.response_timeout:g} s (ccproxy.inspector.upstream_timeout)")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        response = flow.response
        if response is None or not callable(response.stream) or not self.stream_idle_timeout:
            return
        seconds = self.stream_idle_timeout
        reason = f"the stream was silent for {seconds:g} s (ccproxy.inspector.stream_idle_timeout)"
        inner: Callable[[bytes], bytes | Iterable[bytes]] = response.stream

        def rearm(data: bytes) -> bytes | Iterable[bytes]:
            if data:
                self._arm(flow, seconds, reason)
            else:
                self._disarm(flow)  # end of the stream
            return inner(data)

        response.stream = rearm
        self._arm(flow, seconds, reason)

    def response(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        reason = get_meta(flow).extra.pop(TIMED_OUT, None)
        if reason is None:
            return
        meta = get_meta(flow)
        meta.error = reason
        if flow.error is not None:
            flow.error.msg = reason
        if flow.response is None:
            answer_as_timeout(reason)  # the page mitmproxy sends next, from this same task, is a 504

    def done(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
