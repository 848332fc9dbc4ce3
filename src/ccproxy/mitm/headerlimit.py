"""A bound on a request's head (request line + headers) on every HTTP/1 listener.

mitmproxy buffers a request head without limit until its blank line arrives (a FIXME in its
`_http1.py`): a 100 MB header was read whole, parsed, recorded and kept, costing half a gigabyte of
memory. ccproxy stops reading once a head passes `MAX_HEAD_BYTES`, answers 431 with its JSON error
and still records the flow, from the request line and the header lines that fit (the oversized
header itself is left out). HTTP/2 needs no such patch: its header decoder already stops at 64 KiB. A provider's response head
gets the same bound (`install_upstream`): past it the response is dropped and the flow fails (502).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

#: Far above any SDK or agent CLI (a few KiB); nginx and Node.js stop at 8-32 KiB.
MAX_HEAD_BYTES = 256 * 1024
#: After the 431, what the client still sends is read and dropped (up to this much) before the
#: connection closes: closing a socket with unread bytes sends a reset, which can destroy the 431
#: before the client reads it.
DRAIN_BYTES = 64 * 1024 * 1024

_BLANK_LINE = re.compile(rb"\n\r?\n")


def head_complete_within(data: bytes, limit: int) -> bool:
    """The head in `data` ends (blank line) within its first `limit` bytes."""
    return _BLANK_LINE.search(data, 0, limit + 3) is not None


def too_large_message(limit: int) -> str:
    from ccproxy.mitm.answers import head_too_large_message

    return head_too_large_message(limit)


def partial_head(data: bytes, limit: int) -> list[bytes]:
    """The complete lines of a head cut at `limit` bytes, line endings removed."""
    lines = data[:limit].split(b"\n")[:-1]
    return [line.removesuffix(b"\r") for line in lines]


def response_too_large_message(limit: int) -> str:
    return (f"the provider's response headers are larger than {limit // 1024} KiB, ccproxy's limit for a "
            "response head; ccproxy dropped the response and closed the connection")


def install_upstream(limit: int = MAX_HEAD_BYTES) -> None:
    """The same bound on a provider's response head (mitmproxy's client side has the same FIXME)."""
    from mitmproxy.proxy import commands, events
    from mitmproxy.proxy.layers.http import _http1
    from mitmproxy.proxy.layers.http._base import ReceiveHttp
    from mitmproxy.proxy.layers.http._events import ErrorCode, ResponseProtocolError

    client: Any = _http1.Http1Client
    original = getattr(client.read_headers, "__wrapped__", client.read_headers)

    def read_headers(self: Any, event: Any) -> Generator[Any, Any, None]:
        if (isinstance(event, events.DataReceived) and self.request and self.stream_id is not None
                and len(self.buf) > limit and not head_complete_within(bytes(self.buf), limit)):
            from h11._receivebuffer import ReceiveBuffer

            self.buf = ReceiveBuffer()  # the bytes read so far are not kept
            yield commands.CloseConnection(self.conn)
            yield ReceiveHttp(ResponseProtocolError(self.stream_id, response_too_large_message(limit),
                                                    ErrorCode.GENERIC_SERVER_ERROR))
            self.state = self.done
            return
        yield from original(self, event)

    read_headers.__wrapped__ = original  # type: ignore[attr-defined]
    client.read_headers = read_headers


def install(limit: int = MAX_HEAD_BYTES) -> None:
    """Wrap mitmproxy's HTTP/1 server-side head reader; it looks the method up on every connection."""
    from mitmproxy.proxy import events
    from mitmproxy.proxy.layers.http import _http1

    server: Any = _http1.Http1Server
    original = getattr(server.read_headers, "__wrapped__", server.read_headers)

    def read_headers(self: Any, event: Any) -> Generator[Any, Any, None]:
        if isinstance(event, events.DataReceived) and len(self.buf) > limit:
            data = bytes(self.buf)
            if not head_complete_within(data, limit):
                yield from _refuse(self, data, limit)
                return
        yield from original(self, event)

    read_headers.__wrapped__ = original  # type: ignore[attr-defined]
    server.read_headers = read_headers


def _refuse(conn: Any, data: bytes, limit: int) -> Generator[Any, Any, None]:
    """Answer 431, close, and hand the flow on as a request that failed (mitmproxy's own 400 path)."""
    from h11._receivebuffer import ReceiveBuffer
    from mitmproxy.net.http import http1
    from mitmproxy.proxy import commands
    from mitmproxy.proxy.layers.http._base import ReceiveHttp
    from mitmproxy.proxy.layers.http._events import ErrorCode, RequestHeaders, RequestProtocolError
    from mitmproxy.utils import human

    from ccproxy.mitm.errorpage import json_error_response

    message = too_large_message(limit)
    conn.buf = ReceiveBuffer()  # the megabytes read so far are not kept
    yield commands.SendData(conn.conn, json_error_response(431, message))
    yield commands.CloseTcpConnection(conn.conn, half_close=True)
    lines = partial_head(data, limit)
    try:
        request = http1.read_request_head(lines) if lines else None
    except ValueError:
        request = None
    if request is None:
        yield commands.Log(f"{human.format_address(conn.conn.peername)}: {message}")
    else:
        conn.request = request
        yield ReceiveHttp(RequestHeaders(conn.stream_id, request, False))
        yield ReceiveHttp(RequestProtocolError(conn.stream_id, message, ErrorCode.REQUEST_TOO_LARGE))
    conn.state = _drain(conn)


def _drain(conn: Any) -> Any:
    """A connection state that drops what arrives and closes at the client's end or at `DRAIN_BYTES`."""
    from h11._receivebuffer import ReceiveBuffer
    from mitmproxy.proxy import commands, events

    drained = 0

    def drain(event: Any) -> Generator[Any, Any, None]:
        nonlocal drained
        if isinstance(event, events.DataReceived):
            conn.buf = ReceiveBuffer()
            drained += len(event.data)
            if drained <= DRAIN_BYTES:
                return
        if isinstance(event, events.DataReceived | events.ConnectionClosed):
            yield commands.CloseConnection(conn.conn)
            conn.state = conn.done

    return drain
