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
