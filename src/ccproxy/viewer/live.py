"""`/ccproxy/api/live`: the flows in flight and each response so far (text, thinking, tool-call
arguments, TTFT, tokens/s), for the viewer's live list and `ccproxy flows show --follow`.

Read straight off the in-flight flows' metadata (`addons/live.py` keeps the references), on the event
loop that appends to it: no copy, no lock, no store. Kept apart from the store-backed blob on purpose.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from mitmproxy.tools.web.app import AuthRequestHandler

from ccproxy.flowmeta import get_meta
from ccproxy.sessions.live import live_view

if TYPE_CHECKING:
    from mitmproxy import http

PATH = r"/ccproxy/api/live"


def live_entry(flow: http.HTTPFlow, now: float) -> dict[str, Any]:
    """One in-flight flow: what it is and its response so far."""
    meta = get_meta(flow)
    client = meta.client_request
    started = (client.timestamp_start if client else None) or flow.request.timestamp_start or now
    events = meta.upstream_events if meta.upstream_events else meta.client_events
    transform = meta.transform
    return {
        "id": flow.id,
        "method": flow.request.method,
        "client_url": client.url if client else flow.request.pretty_url,
        "model": transform.model if transform and transform.model else None,
        "provider": meta.provider,
        "session_id": meta.session_id,
        "status": flow.response.status_code if flow.response is not None else None,
        "started": started,
        "waiting": flow.response is None,
        **live_view(list(events), started, now),
    }


def live_doc(flows: dict[str, http.HTTPFlow], flow_id: str | None = None,
             quota: dict[str, Any] | None = None) -> dict[str, Any]:
    now = time.time()
    chosen = [f for f in flows.values() if flow_id is None or f.id.startswith(flow_id)]
    return {"now": now, "flows": [live_entry(f, now) for f in chosen], "quota": list((quota or {}).values())}


class LiveStreams(AuthRequestHandler):
    """GET `?id=PREFIX` narrows to one flow; the same token as the rest of mitmweb."""

    def initialize(self, flows: dict[str, http.HTTPFlow], quota: dict[str, Any]) -> None:
        self.flows = flows
        self.quota = quota

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(live_doc(self.flows, self.get_query_argument("id", None) or None, self.quota), default=str))
