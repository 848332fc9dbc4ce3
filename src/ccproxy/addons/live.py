"""The flows in flight: LLM requests sent on and not yet finished, for the viewer's live streams.

Only a reference per flow: the stream tap already appends each event, with its arrival time, to the
flow's metadata as it arrives, so the viewer (on the same event loop) reads a response while it
streams (`ccproxy.viewer.live`). A flow leaves when it ends, well or not; the flow store has it next.
"""

from __future__ import annotations

from mitmproxy import http

from ccproxy.flowmeta import get_meta
from ccproxy.wire.endpoints import main_endpoint

#: More in flight than this and the oldest are no longer shown (a leak guard, not a limit on traffic).
MAX_LIVE = 200


class LiveFlows:
    """Right before the stream tap: sees every request that goes upstream."""

    def __init__(self) -> None:
        self.flows: dict[str, http.HTTPFlow] = {}

    def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if flow.response is not None or meta.internal or meta.hidden or main_endpoint(flow.request.path) is None:
            return
        self.flows[flow.id] = flow
        while len(self.flows) > MAX_LIVE:
            del self.flows[next(iter(self.flows))]

    def response(self, flow: http.HTTPFlow) -> None:
        self.flows.pop(flow.id, None)

    def error(self, flow: http.HTTPFlow) -> None:
        self.flows.pop(flow.id, None)
