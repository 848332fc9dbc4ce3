"""mitmweb content views "Client Request" and "Provider Response": the phases mitmproxy's own views
cannot show, so the web page tells the same story as `ccproxy flows show`.

mitmproxy's views show the request as forwarded and the response the client got; these show
the client's request before any addon touched it and the provider's response before any
transform rewrote it. Both have a negative priority: never auto-selected, always in the dropdown.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import contentviews
from mitmproxy.contentviews import Contentview, Metadata

from ccproxy.flowmeta import META_KEY, FlowMeta
from ccproxy.flows.show import answer_lines, message_text
from ccproxy.store.answer import from_events


def _meta(metadata: Metadata) -> FlowMeta:
    flow: Any = metadata.flow
    meta = flow.metadata.get(META_KEY) if flow is not None else None
    if not isinstance(meta, FlowMeta):
        raise ValueError("this flow did not pass through ccproxy")
    return meta


def _content_type(headers: list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


class ClientRequestView(Contentview):
    @property
    def name(self) -> str:
        return "Client Request"

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        snap = _meta(metadata).client_request
        if snap is None:
            raise ValueError("no client request snapshot (the flow failed before ccproxy saw it)")
        first = f"{snap.method} {snap.url} {snap.http_version}"
        return message_text(first, list(snap.headers), snap.body, _content_type(snap.headers))

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        return -1


class ProviderResponseView(Contentview):
    @property
    def name(self) -> str:
        return "Provider Response"

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        meta = _meta(metadata)
        up = meta.upstream_response
        if up is None:
            raise ValueError("no provider response: ccproxy answered the client itself, or none came yet")
        text = message_text(f"{up.status_code} {up.reason}", list(up.headers), b"", "")
        if meta.upstream_events:
            events = meta.upstream_events
            answer = "".join(answer_lines(from_events(events), events[0].t, events[-1].t))
            raw = up.body.decode("utf-8", "replace")
            return text.replace("(empty body)\n", "") + "reassembled:\n" + answer + "\nas streamed:\n" + raw
        return message_text(f"{up.status_code} {up.reason}", list(up.headers), up.body, _content_type(up.headers))

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        return -1


class ContentViews:
    """Registers the views when the daemon loads its addons (the registry is process-wide)."""

    def __init__(self) -> None:
        self.views: list[Contentview] = [ClientRequestView(), ProviderResponseView()]

    def load(self, loader: Any) -> None:
        for view in self.views:
            contentviews.add(view)
