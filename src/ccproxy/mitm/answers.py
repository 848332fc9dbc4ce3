"""ccproxy's own answers: every JSON error the daemon sends instead of the provider is built here.

One module, so the wire shape of an answer is decided once: in the client's wire format (via
`ccproxy.wire`) where the route knows it, else the Anthropic error shape
(`{"type": "error", "error": {"type": ..., "message": ...}}`), which every SDK reads. The error
pages mitmproxy itself sends for a failed upstream or an unreadable request are built here too
(`error_page`); `mitm/errorpage.py` installs them into mitmproxy, and `mitm/headerlimit.py` and
`addons/timeouts.py` use them too.
"""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import http

from ccproxy.errors import CCProxyError
from ccproxy.flowmeta import get_meta
from ccproxy.wire.anthropic import typed_error_body
from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.neutral import ApiError, ErrorKind
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
    """The 431's text (`mitm/headerlimit.py` sends it); the flow's error says the same."""
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


#: ccproxy's own configuration and credential failures: a status no client retries (a 502 made Claude
#: Code wait 3 minutes and gemini-cli retry 10 times before showing anything), a kind each shows at once.
LOCAL_ERROR: tuple[ErrorKind, int] = ("invalid_request", 400)


def client_format(flow: http.HTTPFlow) -> str:
    """The wire format the client speaks: the router's word for it, else its path's, else Anthropic's."""
    info = get_meta(flow).transform
    if info is not None and info.from_format:
        return info.from_format
    hit = main_endpoint(flow.request.path)
    return hit.format if hit is not None else "anthropic"


def not_routed(flow: http.HTTPFlow) -> None:
    path = flow.request.path.split("?", 1)[0]
    message = (
        f"ccproxy cannot route {flow.request.method} {path}: no sentinel key "
        "(sk-ant-oat-ccproxy-<provider>) and no provider whose `path` matches. "
        "Send a sentinel key, add a provider with this path to ccproxy.yaml, or add an inspector.transforms rule."
    )
    answer(flow, 501, "ccproxy_not_routed", message)


def answer_local(flow: http.HTTPFlow, error: CCProxyError) -> None:
    """ccproxy itself cannot serve this request as configured: say so in the client's own format, once."""
    kind, status = LOCAL_ERROR
    message = f"ccproxy: {error}"
    request = flow.request
    if request.method == "GET" and "websocket" in request.headers.get("upgrade", "").lower():
        # Codex shows nothing for a refused handshake but a 426, after which it POSTs over HTTP
        # and gets (and shows) this message as a 400 (see addons/websocket.py).
        answer(flow, 426, "invalid_request_error", message, close=True)
        return
    answer_in_format(flow, client_format(flow), ApiError(kind, message, status))


def answer_json(flow: http.HTTPFlow, status: int, body: Any) -> None:
    """A JSON answer ccproxy gives itself that is not an error (`GET /health`)."""
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": JSON})


# -- the pages mitmproxy sends for a failed flow ----------------------------------------------------

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


def websocket_error(status: int, kind: str, message: str) -> bytes:
    """A ccproxy error as one WebSocket message: a Responses `error` event (the one socket ccproxy relays)."""
    return json.dumps({"type": "error", "status": status, "error": {"type": kind, "code": kind, "message": message}}).encode()
