"""No client waits forever on a silent provider, and a failed flow records the answer the client got.

mitmproxy itself bounds only how long a whole connection may idle (`inspector.idle_timeout`), and
then drops the client's connection without a word. Here a timer runs from the moment a request is
forwarded until the response headers arrive (`inspector.upstream_timeout`), and then between two
chunks of the response body (`inspector.stream_idle_timeout`), streamed or buffered. When one
fires, the upstream connection is closed; mitmproxy then takes its usual error path, which this
addon turns into a timeout: the flow's error says which limit was hit. A stream already under way
just ends, as if the provider had cut it, which the router's translators and SDKs already handle.

Whenever the upstream fails before the client got response headers (no answer, a body cut or
stalled half way), the client gets ccproxy's JSON error page (504 for a timeout, else 502), and
the flow's `response` is that same page, so the store says what the client saw; the provider's
status and headers, if any came, stay in `.ccproxy.upstream_response`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mitmproxy import ctx, http
from mitmproxy.connection import ConnectionState
from mitmproxy.flow import Error

from ccproxy.flowmeta import UpstreamResponse, get_meta
from ccproxy.mitm import answers, errorpage
from ccproxy.mitm.bodywatch import _BODY_WATCH, watch_response_bodies
from ccproxy.mitm.idletimeout import IDLE_MARK
from ccproxy.mitm.upstream import upstream_task

log = logging.getLogger("ccproxy.timeouts")

def client_got_headers(flow: http.HTTPFlow) -> bool:
    """Whether the response's headers already went to the client (a streamed body starts at once)."""
    return flow.response is not None and bool(flow.response.stream)


class UpstreamTimeouts:
    """Late on the request side (the flow is about to leave), early on the error side (before the recorder)."""

    def __init__(self, response_timeout: float, stream_idle_timeout: float, idle_timeout: float = 0) -> None:
        self.idle_timeout = idle_timeout
        self.response_timeout = response_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.master: Any = None
        watch_response_bodies()

    def running(self) -> None:
        self.master = ctx.master

    # -- timers ------------------------------------------------------------------------------------
    def _arm(self, flow: http.HTTPFlow, seconds: float, reason: str) -> None:
        self._stop_timer(flow)
        self.timers[flow.id] = asyncio.get_running_loop().call_later(seconds, self._expire, flow, reason)

    def _stop_timer(self, flow: http.HTTPFlow) -> None:
        timer = self.timers.pop(flow.id, None)
        if timer is not None:
            timer.cancel()

    def _disarm(self, flow: http.HTTPFlow) -> None:
        self._stop_timer(flow)
        _BODY_WATCH.pop(flow.id, None)

    def _expire(self, flow: http.HTTPFlow, reason: str) -> None:
        self.timers.pop(flow.id, None)
        _BODY_WATCH.pop(flow.id, None)
        if not flow.live:
            return
        server_task = self._server_task(flow)
        if server_task is None:
            log.warning("flow %s: %s, but its upstream connection is already gone", flow.id[:8], reason)
            return
        get_meta(flow).timed_out = reason  # reported by `error`
        log.warning("flow %s: %s; closing the upstream connection", flow.id[:8], reason)
        server_task.cancel(f"ccproxy: {reason}")

    def _server_task(self, flow: http.HTTPFlow) -> asyncio.Task[Any] | None:
        """The task that reads the flow's upstream connection (mitmproxy's connection handler)."""
        return upstream_task(self.master, flow)

    # -- events ------------------------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None and self.response_timeout:
            self._arm(flow, self.response_timeout,
                      f"no response headers within {self.response_timeout:g} s (ccproxy.inspector.upstream_timeout)")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        if flow.response is None or not self.stream_idle_timeout:
            return
        seconds = self.stream_idle_timeout
        what = "the stream" if flow.response.stream else "the response body"
        reason = f"{what} was silent for {seconds:g} s (ccproxy.inspector.stream_idle_timeout)"
        _BODY_WATCH[flow.id] = lambda: self._arm(flow, seconds, reason)
        self._arm(flow, seconds, reason)

    def response(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        meta = get_meta(flow)
        reason, meta.timed_out = meta.timed_out, None
        if reason is None and getattr(flow.client_conn, IDLE_MARK, False) and flow.response is None:
            reason = (f"the client sent nothing for {self.idle_timeout:g} s while its request was incomplete; "
                      "ccproxy closed the connection (ccproxy.inspector.idle_timeout)")
        if reason is not None:
            meta.error = reason
            if flow.error is not None:
                flow.error.msg = reason
        self._record_the_error_page(flow, reason)

    def _record_the_error_page(self, flow: http.HTTPFlow, timeout: str | None) -> None:
        """The client is about to get ccproxy's error page: decide it now, so the flow records it.

        Not when mitmproxy sends no page: the client is gone, the flow was killed, headers already
        went out (a stream just ends), or the client speaks HTTP/3. An HTTP/2 client gets the same JSON
        page from mitmproxy's HTTP/2 layer: the flow records it, not the provider's 200 that broke off."""
        err = flow.error
        if err is None or err.msg == Error.KILLED_MESSAGE or client_got_headers(flow):
            return
        if answers.is_head_too_large(err.msg) and flow.response is None:
            # The 431 already went out (mitm/headerlimit.py): record it, so the flow lists as 431.
            flow.response = answers.error_page(431, err.msg)
            flow.response.timestamp_start = flow.response.timestamp_end = err.timestamp
            return
        if not flow.client_conn.state & ConnectionState.CAN_WRITE:
            return
        http2 = flow.request.http_version.startswith("HTTP/2")
        if not flow.request.http_version.startswith("HTTP/1") and not (http2 and timeout is None):
            return
        upstream = flow.response
        if upstream is not None and get_meta(flow).upstream_response is None:
            get_meta(flow).upstream_response = UpstreamResponse(
                status_code=upstream.status_code, reason=upstream.reason,
                headers=[(k, v) for k, v in upstream.headers.items(multi=True)], body=b"",
            )
        page = answers.error_page(502, err.msg, timeout)
        if http2:  # mitmproxy's HTTP/2 layer sends this same JSON page itself (mitm/errorpage._install_h2)
            page.timestamp_start = page.timestamp_end = err.timestamp
            flow.response = page
            return
        page.timestamp_start = page.timestamp_end = err.timestamp
        flow.response = page
        errorpage.answer_with(page)

    def done(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        _BODY_WATCH.clear()
