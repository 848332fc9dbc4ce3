"""JSON error pages for SDK clients: mitmproxy's HTML page for a failed upstream or an unreadable
request (`_http1.make_error_response`) replaced by ccproxy's JSON answer (`mitm/answers.error_page`).

The page a flow will get can be decided ahead (`answer_with`), so the flow records the very answer
the client got; that registry is this patch's alone.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from mitmproxy import http

from ccproxy.mitm.answers import error_page

#: Error pages decided ahead, keyed by the task that will send them: `UpstreamTimeouts` builds the
#: page from the error hook (so the flow records it), which runs in the same task just before.
_PAGES: weakref.WeakKeyDictionary[asyncio.Task[Any], bytes] = weakref.WeakKeyDictionary()


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def install() -> None:
    """Swap the HTTP/1 error page builder; mitmproxy looks the function up at call time. HTTP/2 too."""
    from mitmproxy.proxy.layers.http import _http1

    module: Any = _http1
    module.make_error_response = json_error_response
    _install_h2()


def _install_h2() -> None:
    """mitmproxy's HTTP/2 layer writes its own page inline: an HTML body (`format_error`) under a
    literal `content-type: text/html` and its `server` header. The body builder is swapped for ccproxy's
    JSON page, and that one header list is given the JSON content type as it is sent."""
    from mitmproxy import version
    from mitmproxy.proxy.layers.http import _http2, _http_h2

    module: Any = _http2
    module.format_error = lambda status, message: error_page(status, message).content or b""
    conn: Any = _http_h2.BufferedH2Connection
    if getattr(conn.send_headers, "_ccproxy", False):
        return
    original = conn.send_headers
    ours = (b"server", version.MITMPROXY.encode())

    def send_headers(self: Any, stream_id: int, headers: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(headers, list) and ours in headers and (b"content-type", b"text/html") in headers:
            headers = [(k, b"application/json") if k == b"content-type" else (k, v) for k, v in headers if k != b"server"]
        return original(self, stream_id, headers, *args, **kwargs)

    send_headers._ccproxy = True  # type: ignore[attr-defined]
    conn.send_headers = send_headers


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
