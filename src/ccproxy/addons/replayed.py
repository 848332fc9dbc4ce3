"""Put an answer ccproxy fetched itself (a 401 replay, a capacity retry) in place of the provider's first.

(The router's refused-parameter retry uses `replace_whole`: its 400 is whole, in `response`.)
The two others happen in `responseheaders`, before any byte of the first answer reached the client: its
status and headers are replaced there, so every later addon (the router's translation, the stream
tap) handles the new answer like an upstream one. mitmproxy only forwards body bytes from the
original connection, so the new answer is read whole first: a stream reaches the client complete,
in one piece, rather than event by event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from ccproxy.addons.stream import _Tap
from ccproxy.auth.replay import Replayed, client_headers
from ccproxy.flowmeta import FlowMeta


def drain(tap: Any, body: bytes) -> bytes:
    """Push a whole body and the end-of-stream through a stream callable; what the client gets."""
    out = b""
    for chunk in (body, b""):
        result = tap(chunk)
        out += result if isinstance(result, bytes) else b"".join(result)
    return out


class ReplayBody:
    """Stands in for the stream callable: drops the first answer's bytes, then emits the new body through `tap`."""

    def __init__(self, body: bytes, tap: Any, done: Callable[[], object]) -> None:
        self.body = body
        self.tap = tap
        self.done = done

    def __call__(self, chunk: bytes) -> list[bytes]:
        if chunk:
            return []  # an empty bytes chunk would end a chunked HTTP/1 body early
        self.done()
        out = drain(self.tap, self.body)
        return [out] if out else []


def swap_in(flow: http.HTTPFlow, meta: FlowMeta, replayed: Replayed, done: Callable[[], object]) -> None:
    """The new answer's status and headers replace the first's; a stream's body follows through the tap.

    A body that is not a stream is put in by `fill_body` from the `response` event; `done` is
    called once a stream's body went out (the caller forgets its pending answer)."""
    old = flow.response
    assert old is not None
    streamed = replayed.is_event_stream
    flow.response = http.Response(
        http_version=old.data.http_version,
        status_code=replayed.status_code,
        reason=replayed.reason.encode(),
        headers=http.Headers(client_headers(replayed, streamed)),
        content=None,
        trailers=None,
        timestamp_start=time.time(),
        timestamp_end=None,
    )
    if streamed:
        flow.response.stream = ReplayBody(replayed.body, _Tap(meta), done)


def fill_body(flow: http.HTTPFlow, meta: FlowMeta, replayed: Replayed) -> None:
    """The first answer's body was consumed into the response; put the new body in its place."""
    if flow.response is None:
        return
    body = drain(_Tap(meta), replayed.body) if replayed.is_event_stream else replayed.body
    flow.response.raw_content = body
    if "content-length" in flow.response.headers:
        flow.response.headers["content-length"] = str(len(body))


def replace_whole(flow: http.HTTPFlow, replayed: Replayed) -> None:
    """From `response`: the new answer, read whole, replaces a whole first answer (the router's retry)."""
    response = flow.response
    assert response is not None
    flow.response = http.Response(
        http_version=response.data.http_version,
        status_code=replayed.status_code,
        reason=replayed.reason.encode(),
        headers=http.Headers(client_headers(replayed, streamed=False)),
        content=None,
        trailers=None,
        timestamp_start=response.timestamp_start,
        timestamp_end=time.time(),
    )
    flow.response.raw_content = replayed.body
