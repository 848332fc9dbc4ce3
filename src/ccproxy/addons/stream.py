"""Stream server-sent events through incrementally, recording both sides with arrival times."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flows.meta import FlowMeta, get_meta
from ccproxy.flows.sse import SSEParser


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
            out = fn(out) if (out or not chunk) else out
        if out:
            meta.client_events.extend(self.client.feed(out))
        # An empty bytes chunk would go out as the 0-length chunk that ends a chunked HTTP/1 body.
        return out if out else []


class StreamTap:
    """Must come after every addon whose `responseheaders` adds a stream filter (the router)."""

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None or not is_event_stream(response) or callable(response.stream):
            return  # an earlier addon (the auth replay) already feeds this body through its own tap
        response.stream = _Tap(get_meta(flow))
