"""LiveFlows keeps LLM requests in flight, only them, and lets go when they end; the live view reads them."""

from __future__ import annotations

from mitmproxy.test import tflow

from ccproxy.addons.live import LiveFlows
from ccproxy.flowmeta import SSEEvent, get_meta
from ccproxy.viewer.live import live_doc


def test_in_flight_llm_requests_only_until_they_end() -> None:
    addon = LiveFlows()
    llm, other, answered = tflow.tflow(), tflow.tflow(), tflow.tflow(resp=True)
    llm.request.path = "/v1/messages"
    answered.request.path = "/v1/messages"
    other.request.path = "/health"
    for f in (llm, other, answered):
        addon.request(f)
    assert list(addon.flows) == [llm.id]
    meta = get_meta(llm)
    start = llm.request.timestamp_start
    meta.upstream_events += [
        SSEEvent(start + 0.1, '{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":5}}}',
                 "message_start"),
        SSEEvent(start + 0.2, '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
                 "content_block_start"),
        SSEEvent(start + 0.3, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello "}}',
                 "content_block_delta"),
        SSEEvent(start + 1.3, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there, friend"}}',
                 "content_block_delta"),
    ]
    [entry] = live_doc(addon.flows)["flows"]
    assert entry["text"] == "Hello there, friend" and entry["ttft_ms"] == 300.0 and entry["complete"] is False
    assert entry["tokens_per_s"] == 4.8 and entry["tokens_estimated"] is True  # 19 chars ~ 4.75 tokens over 1 s
    addon.response(llm)
    assert addon.flows == {} and live_doc(addon.flows, "abc")["flows"] == []
