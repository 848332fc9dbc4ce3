"""Flow facts -> GenAI span attributes, for each wire format, with and without content."""

from __future__ import annotations

import json

from ccproxy.flowmeta import SSEEvent
from ccproxy.telemetry.genai import FlowFacts, span_spec


def anthropic_facts(**extra: object) -> FlowFacts:
    request = {"model": "claude-x", "system": "be brief", "messages": [{"role": "user", "content": "prompt!"}]}
    answer = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x-2025",
        "content": [{"type": "text", "text": "answer!"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2},
    }  # fmt: skip
    base = FlowFacts(
        flow_id="f1", start=10.0, end=12.5, method="POST", url="http://127.0.0.1:4000/v1/messages",
        server_address="api.anthropic.com", server_port=443, source="wireguard", status_code=200,
        first_byte=10.25, provider="anthropic", wire_format="anthropic", route_action="route",
        request_body=json.dumps(request).encode(), upstream_body=json.dumps(answer).encode(),
    )  # fmt: skip
    for k, v in extra.items():
        setattr(base, k, v)
    return base


def test_anthropic_json_answer() -> None:
    spec = span_spec(anthropic_facts())
    a = spec.attributes
    assert spec.name == "chat claude-x" and spec.error is None
    assert (spec.start_ns, spec.end_ns) == (10_000_000_000, 12_500_000_000)
    assert a["gen_ai.system"] == "anthropic" and a["gen_ai.response.model"] == "claude-x-2025"
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.usage.cache_read.input_tokens"] == 5 and a["gen_ai.usage.cache_creation.input_tokens"] == 2
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"] and a["ccproxy.ttfb_ms"] == 250.0
    assert a["ccproxy.source"] == "wireguard" and a["server.address"] == "api.anthropic.com"
    assert not any(k in a for k in ("gen_ai.input.messages", "gen_ai.output.messages"))
    assert "prompt!" not in json.dumps(a) and "answer!" not in json.dumps(a)


def test_content_when_asked() -> None:
    a = span_spec(anthropic_facts(), capture_content=True).attributes
    assert json.loads(a["gen_ai.input.messages"]) == {
        "system": "be brief", "messages": [{"role": "user", "content": "prompt!"}]
    }
    out = json.loads(a["gen_ai.output.messages"])
    assert out == [{"role": "assistant", "parts": [{"type": "text", "content": "answer!"}], "finish_reason": "end_turn"}]


def test_gemini_stream_and_model_from_path() -> None:
    events = [
        SSEEvent(1.0, json.dumps({"candidates": [{"content": {"parts": [{"text": "hi"}]}}], "modelVersion": "gemini-2"})),
        SSEEvent(1.1, json.dumps({"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}],
                                  "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}})),
    ]  # fmt: skip
    facts = FlowFacts(
        "g", 1.0, 2.0, "POST", "http://h/v1beta/models/gemini-2:streamGenerateContent?alt=sse", "h", 443, "reverse",
        status_code=200, wire_format="gemini", request_body=b'{"contents": []}', upstream_events=events,
    )  # fmt: skip
    spec = span_spec(facts)
    a = spec.attributes
    assert spec.name == "generate_content gemini-2" and a["gen_ai.system"] == "gcp.gemini"
    assert a["gen_ai.usage.input_tokens"] == 4 and a["gen_ai.usage.output_tokens"] == 2
    assert a["ccproxy.streamed"] is True and a["gen_ai.response.finish_reasons"]


def test_errors_and_non_llm_flows() -> None:
    failed = span_spec(anthropic_facts(status_code=429, upstream_body=b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'))
    assert failed.attributes["error.type"] == "429" and failed.error
    broken = span_spec(anthropic_facts(status_code=None, upstream_body=None, error="connection refused"))
    assert broken.attributes["error.type"] == "ccproxy.flow_error" and broken.error == "connection refused"
    other = span_spec(FlowFacts("o", 1.0, 1.5, "GET", "https://example.org/", "example.org", 443, "wireguard", status_code=200))
    assert other.name == "GET example.org" and "gen_ai.operation.name" not in other.attributes


def test_cost_attribute_priced_by_the_table_or_config_and_absent_when_unknown() -> None:
    from ccproxy.config.pricing import ModelPrice
    from ccproxy.sessions.cost import price_usage

    assert "ccproxy.cost.usd" not in span_spec(anthropic_facts()).attributes  # claude-x-2025: no price known
    answer = json.loads(anthropic_facts().upstream_body or b"{}")
    known = anthropic_facts(upstream_body=json.dumps({**answer, "model": "claude-sonnet-4-5"}).encode())
    expected = price_usage("anthropic", "claude-sonnet-4-5", {"input_tokens": 11, "output_tokens": 7,
                           "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2})
    assert expected and expected.usd and span_spec(known).attributes["ccproxy.cost.usd"] == expected.usd
    priced = span_spec(anthropic_facts(), prices={"claude-x-*": ModelPrice(input_mtok=1e6, output_mtok=0)})
    assert priced.attributes["ccproxy.cost.usd"] == 11 + 5 + 2
def test_rate_limit_headers_become_quota_attributes() -> None:
    facts = anthropic_facts(status_code=429, response_headers=[
        ("anthropic-ratelimit-unified-status", "rejected"),
        ("anthropic-ratelimit-unified-5h-utilization", "1.0"),
        ("anthropic-ratelimit-unified-5h-reset", "1800003600"),
    ])
    attrs = span_spec(facts).attributes
    assert attrs["ccproxy.quota.status"] == "rejected" and attrs["ccproxy.quota.kind"] == "anthropic-unified"
    assert attrs["ccproxy.quota.5h.utilization"] == 100.0 and attrs["ccproxy.quota.5h.reset"] == 1800003600.0
    assert not any(k.startswith("ccproxy.quota") for k in span_spec(anthropic_facts()).attributes)
