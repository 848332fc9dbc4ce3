"""Every view reads the Gemini inside a Code Assist envelope: answers, lint, model, conversation, spans."""

from __future__ import annotations

import json

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.answer import from_body, from_events
from ccproxy.store.conversation import conversation_id, first_user_text, model_of
from ccproxy.store.lint import lint_events, sniff
from ccproxy.telemetry.genai import FlowFacts, span_spec
from ccproxy.wire.sse import SSEReader
from tests.wire.golden import load_bytes, load_json


def stream_events() -> list[SSEEvent]:
    return [SSEEvent(float(i), e.data, e.event) for i, e in
            enumerate(SSEReader().feed(load_bytes("code_assist_stream.sse")))]


def test_a_stream_is_reassembled_with_usage() -> None:
    answer = from_events(stream_events())
    assert answer.format == "code_assist" and answer.complete
    assert answer.text == "It is 18C and cloudy in Paris." and answer.reasoning.startswith("The user asked")
    assert answer.usage is not None and answer.usage["input_tokens"] == 312 and answer.model == "gemini-2.5-pro"


def test_a_json_answer_and_a_json_array_are_read() -> None:
    answer = from_body(load_bytes("code_assist_response.json"))
    assert answer is not None and answer.format == "code_assist" and answer.stop_reason == "STOP"
    assert answer.usage == {"input_tokens": 312, "output_tokens": 11, "reasoning_tokens": 28, "total_tokens": 351}
    array = from_body(json.dumps([json.loads(e.data) for e in stream_events()]).encode())
    assert array is not None and array.format == "code_assist" and array.text.endswith("Paris.")
    error = from_body(b'{"error": {"code": 429, "message": "No capacity", "status": "RESOURCE_EXHAUSTED"}}')
    assert error is not None and error.error == "No capacity"


def test_lint_checks_the_gemini_grammar_inside() -> None:
    events = stream_events()
    assert sniff(events) == "code_assist"
    assert lint_events(events).valid
    cut = lint_events(events[:-1])
    assert not cut.valid and cut.format == "code_assist" and cut.first_error() is not None


def test_model_and_conversation_come_from_the_envelope() -> None:
    doc = load_json("code_assist_request.json")
    assert model_of(doc, "/v1internal:streamGenerateContent") == "gemini-2.5-pro"
    assert first_user_text(doc) is not None and first_user_text(doc) == first_user_text(doc["request"])
    assert conversation_id(doc) == conversation_id(doc["request"]) is not None
    assert model_of({"request": {"model": "models/gemini-2.5-flash", "contents": []}}) == "gemini-2.5-flash"


def test_the_span_is_a_generate_content_call() -> None:
    facts = FlowFacts(
        "c", 1.0, 2.0, "POST", "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse",
        "cloudcode-pa.googleapis.com", 443, "wireguard", status_code=200, wire_format="code_assist",
        request_body=load_bytes("code_assist_request.json"), upstream_events=stream_events(),
    )  # fmt: skip
    spec = span_spec(facts, capture_content=True)
    a = spec.attributes
    assert spec.name == "generate_content gemini-2.5-pro" and a["gen_ai.system"] == "gcp.gemini"
    assert a["gen_ai.usage.input_tokens"] == 312 and a["gen_ai.response.model"] == "gemini-2.5-pro"
    assert "fake-project-0001" not in a["gen_ai.input.messages"] and "contents" in a["gen_ai.input.messages"]
