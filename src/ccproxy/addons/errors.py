"""ccproxy's own answers: every JSON error the daemon sends instead of the provider is built here.

One module, so the wire shape of an answer is decided once: in the client's wire format (via
`ccproxy.wire`) where the route knows it, else the Anthropic error shape
(`{"type": "error", "error": {"type": ..., "message": ...}}`), which every SDK reads. The error
pages mitmproxy itself sends for a failed upstream or an unreadable request are built here too
(`json_error_response`); `daemon/error_pages.py` only installs that function into mitmproxy, and
`daemon/headerlimit.py` and `addons/timeouts.py` call it from here.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

from mitmproxy import http

from ccproxy.flows.meta import get_meta
from ccproxy.wire.anthropic import typed_error_body
from ccproxy.wire.neutral import ApiError
from ccproxy.wire.translate import error_response

_STATUS_TYPE = {
    400: "invalid_request_error",
    431: "request_header_fields_too_large",
    502: "upstream_unreachable",
    504: "upstream_timeout",
}

JSON = "application/json"


_HEAD_TOO_LARGE = "ccproxy refused the request: its headers are larger than"


def head_too_large_message(limit: int) -> str:
    """The 431's text (`daemon/headerlimit.py` sends it); the flow's error says the same."""
    return (
        f"{_HEAD_TOO_LARGE} {limit // 1024} KiB, ccproxy's limit "
        "for a request head; send large data in the body. The flow records the request line."
    )


def is_head_too_large(message: str) -> bool:
    return message.startswith(_HEAD_TOO_LARGE)


def error_json(status_code: int, text: str, kind: str | None = None) -> bytes:
    """ccproxy's JSON error body (the Anthropic error shape, which every SDK reads)."""
    return json.dumps(typed_error_body(kind or _STATUS_TYPE.get(status_code, "proxy_error"), text)).encode()


def answer(flow: http.HTTPFlow, status: int, kind: str, message: str, *, close: bool = False) -> None:
    """Answer the flow with ccproxy's own error (Anthropic shape); the message is also the flow's error."""
    get_meta(flow).error = message
    headers = {"content-type": JSON, "connection": "close"} if close else {"content-type": JSON}
    flow.response = http.Response.make(status, error_json(status, message, kind), headers)


def answer_in_format(flow: http.HTTPFlow, client_format: str | None, error: ApiError) -> None:
    """Answer the flow with an error in the client's wire format (Anthropic's when unknown)."""
    status, body = error_response(error, client_format or "anthropic")
    get_meta(flow).error = error.message
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": JSON})


def websocket_error(status: int, kind: str, message: str) -> bytes:
    """A ccproxy error as one WebSocket message: a Responses `error` event (the one socket ccproxy relays)."""
    return json.dumps({"type": "error", "status": status, "error": {"type": kind, "code": kind, "message": message}}).encode()


def answer_json(flow: http.HTTPFlow, status: int, body: Any) -> None:
    """A JSON answer ccproxy gives itself that is not an error (`GET /health`)."""
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": JSON})


# -- the pages mitmproxy sends for a failed flow ----------------------------------------------------

#: Error pages decided ahead, keyed by the task that will send them: `UpstreamTimeouts` builds the
#: page from the error hook (so the flow records it), which runs in the same task just before.
_PAGES: weakref.WeakKeyDictionary[asyncio.Task[Any], bytes] = weakref.WeakKeyDictionary()


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def error_page(status_code: int, message: str = "", timeout: str | None = None) -> http.Response:
    """The JSON error answer for a flow the upstream failed; `timeout` makes it a 504."""
    if timeout is not None:
        status_code = 504
        text = f"ccproxy got no answer in time from the upstream: {timeout}; the flow records the error."
    elif status_code == 431:
        text = message
    elif status_code < 500:
        text = f"ccproxy could not read the request: {message or 'malformed HTTP'}. Check what the client sends."
    else:
        text = (
            f"ccproxy could not get an answer from the upstream: {message or 'no detail'}. "
            "Check that the provider's host/port in ccproxy.yaml is reachable; the flow records the error."
        )
    return http.Response.make(
        status_code,
        error_json(status_code, text),
        http.Headers(content_type=JSON, connection="close"),
    )


def answer_with(response: http.Response) -> None:
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
