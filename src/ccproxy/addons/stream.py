"""Stream server-sent events through incrementally, recording both sides with arrival times.

Large plain bodies (a package download inside the jail) are streamed too, untapped: mitmproxy
would otherwise hold the whole body before the client sees a byte (a 50 MB download waited a
second for its first byte, bench/namespace.py). `store_streamed_bodies` keeps the bytes for the
flow store. Only where nothing rewrites the body afterwards: no format translation, not a 401
(the auth addon may replay it)."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.store.sse import SSEParser


def is_event_stream(response: http.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "").lower()


class _Tap:
    """The callable mitmproxy calls per chunk (and with b"" at the end)."""

    def __init__(self, meta: FlowMeta) -> None:
        self.meta = meta
        self.upstream = SSEParser()
        self.client = SSEParser()

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        meta = self.meta
        if chunk:
            meta.upstream_raw += chunk
            meta.upstream_events.extend(self.upstream.feed(chunk))
        out = chunk
        for fn in meta.stream_filters:
            # At the end (b""), what a filter flushes reaches the next one before the end does.
            out = (fn(out) if out else b"") + (b"" if chunk else fn(b""))
        if out:
            meta.client_events.extend(self.client.feed(out))
        # An empty bytes chunk would go out as the 0-length chunk that ends a chunked HTTP/1 body.
        return out if out else []


LARGE_BODY = 1 << 20  # bytes; a plain body above this is streamed to the client as it arrives
UNTOUCHED = (None, "passthrough", "route")  # transform modes that never rewrite a response body


def _large_and_untouched(flow: http.HTTPFlow, response: http.Response) -> bool:
    transform = get_meta(flow).transform
    if response.status_code == 401 or (transform.mode if transform else None) not in UNTOUCHED:
        return False
    try:
        return int(response.headers.get("content-length", "0")) > LARGE_BODY
    except ValueError:
        return False


class StreamTap:
    """Must come after every addon whose `responseheaders` adds a stream filter (the router).

    A filter with a `whole(body)` method (a hook's answer rewrite) also rewrites a body that was
    not streamed, once the router translated it into the client's format."""

    def response(self, flow: http.HTTPFlow) -> None:
        response, meta = flow.response, get_meta(flow)
        if response is None or response.stream or response.status_code >= 400:
            return
        for fn in meta.stream_filters:
            whole = getattr(fn, "whole", None)
            if whole is not None:
                response.content = whole(response.content or b"")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None or response.stream:
            return  # an earlier addon (the auth replay) already feeds this body through its own tap
        if is_event_stream(response):
            response.stream = _Tap(get_meta(flow))
        elif _large_and_untouched(flow, response):
            response.stream = True
            get_meta(flow).body_streamed = True
