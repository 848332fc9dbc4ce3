"""Small, contained adjustments to mitmproxy: JSON error pages for SDK clients, no idle UI broadcasts."""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

_STATUS_TYPE = {502: "upstream_unreachable", 504: "upstream_timeout"}


#: Error pages decided ahead, keyed by the task that will send them: `UpstreamTimeouts` builds the
#: page from the error hook (so the flow records it), which runs in the same task just before.
_PAGES: weakref.WeakKeyDictionary[asyncio.Task[Any], bytes] = weakref.WeakKeyDictionary()


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def error_page(status_code: int, message: str = "", timeout: str | None = None) -> Any:
    """The JSON error answer (an `http.Response`) for a flow the upstream failed; `timeout` makes it a 504."""
    from mitmproxy import http

    if timeout is not None:
        status_code = 504
        text = f"ccproxy got no answer in time from the upstream: {timeout}; the flow records the error."
    else:
        text = (
            f"ccproxy could not get an answer from the upstream: {message or 'no detail'}. "
            "Check that the provider's host/port in ccproxy.yaml is reachable; the flow records the error."
        )
    body = {"type": "error", "error": {"type": _STATUS_TYPE.get(status_code, "proxy_error"), "message": text}}
    return http.Response.make(
        status_code,
        json.dumps(body),
        http.Headers(content_type="application/json", connection="close"),
    )


def answer_with(response: Any) -> None:
    """Make the error page the current task sends next exactly `response` (the one the flow records)."""
    from mitmproxy.net.http import http1

    task = _task()
    if task is not None:
        _PAGES[task] = http1.assemble_response(response)


def json_error_response(status_code: int, message: str = "") -> bytes:
    """Replacement for mitmproxy's HTML error page; same signature as `_http1.make_error_response`."""
    from mitmproxy.net.http import http1

    task = _task() if _PAGES else None
    decided = _PAGES.pop(task, None) if task is not None else None
    if decided is not None:
        return decided
    data: bytes = http1.assemble_response(error_page(status_code, message))
    return data


def install() -> None:
    """Swap the HTTP/1 error page builder; mitmproxy looks the function up at call time."""
    from mitmproxy.proxy.layers.http import _http1

    module: Any = _http1
    module.make_error_response = json_error_response


def quiet_broadcasts() -> None:
    """mitmweb serializes every flow update for its websocket even when no browser is connected;
    skip that work until someone opens the UI (it costs ~7% of the proxy's CPU under load)."""
    from mitmproxy.tools.web import app

    conn: Any = app.ClientConnection
    original = conn.broadcast_flow.__func__

    def broadcast_flow(cls: Any, type: str, f: Any) -> None:
        if cls.connections:
            original(cls, type, f)

    conn.broadcast_flow = classmethod(broadcast_flow)
