from __future__ import annotations

import json

import pytest

from ccproxy.store.answer import detect_format, from_body, from_events, normalize_usage
from tests.store.factory import fixture_bytes, fixture_events


@pytest.mark.parametrize(
    ("fixture", "fmt", "text", "stop", "usage"),
    [
        ("anthropic_stream_text.sse", "anthropic", "Hello from the fake provider.", "end_turn",
         {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 0}),
        ("openai_stream_usage.sse", "openai", "Hello from the fake provider.", "stop",
         {"input_tokens": 33, "output_tokens": 7, "cache_read_input_tokens": 3, "total_tokens": 40}),
        ("responses_stream_text.sse", "openai_responses", "Hello from the fake provider.", "completed",
         {"input_tokens": 14, "output_tokens": 7, "cache_read_input_tokens": 3, "reasoning_tokens": 0,
          "total_tokens": 21}),
        ("gemini_stream.sse", "gemini", "Hello from the fake provider.", "STOP",
         {"input_tokens": 16, "output_tokens": 7, "cache_read_input_tokens": 3, "total_tokens": 23}),
    ],
)
def test_streamed_text_is_reassembled(fixture: str, fmt: str, text: str, stop: str, usage: dict[str, int]) -> None:
    answer = from_events(fixture_events(fixture))
    assert answer.format == fmt
    assert answer.text == text
    assert answer.stop_reason == stop
    assert answer.usage == usage
    assert answer.complete
    assert answer.tool_calls == []


@pytest.mark.parametrize(
    ("fixture", "stop", "call_id", "output_tokens"),
    [
        ("anthropic_stream_tool.sse", "tool_use", "toolu_fake01", 12),
        ("openai_stream_tool.sse", "tool_calls", "call_fake01", None),  # no stream_options.include_usage
        ("responses_stream_tool.sse", "completed", "call_fake01", 12),
        ("gemini_stream_tool.sse", "STOP", None, 12),
    ],
)
def test_streamed_tool_calls_are_reassembled(fixture: str, stop: str, call_id: str | None,
                                             output_tokens: int | None) -> None:
    answer = from_events(fixture_events(fixture))
    assert [c.name for c in answer.tool_calls] == ["get_weather"]
    call = answer.tool_calls[0]
    assert json.loads(call.arguments) == {"location": "Paris"}
    assert call.id == call_id
    assert answer.stop_reason == stop
    assert (answer.usage or {}).get("output_tokens") == output_tokens


def test_thinking_and_cache_creation_are_kept_apart_from_the_text() -> None:
    answer = from_events(fixture_events("anthropic_stream_thinking.sse"))
    assert answer.text == "2 + 2 = 4"
    assert answer.reasoning == "The user wants 2+2. That is 4."
    assert answer.usage == {"input_tokens": 41, "output_tokens": 27, "cache_creation_input_tokens": 2048,
                            "cache_read_input_tokens": 0}
    assert answer.id == "msg_01Thinking"


def test_a_cut_stream_is_incomplete_but_keeps_what_arrived() -> None:
    answer = from_events(fixture_events("anthropic_stream_cut.sse"))
    assert not answer.complete
    assert answer.text == "Hello from "
    assert answer.stop_reason is None
    assert answer.usage == {"input_tokens": 30, "output_tokens": 1, "cache_read_input_tokens": 3,
                            "cache_creation_input_tokens": 0}


@pytest.mark.parametrize(
    ("fixture", "fmt", "input_tokens"),
    [("anthropic_message.json", "anthropic", 26), ("openai_chat.json", "openai", 18),
     ("responses.json", "openai_responses", 10), ("gemini.json", "gemini", 16)],
)
def test_json_bodies(fixture: str, fmt: str, input_tokens: int) -> None:
    answer = from_body(fixture_bytes(fixture))
    assert answer is not None
    assert answer.format == fmt
    assert answer.text == "Hello from the fake provider."
    assert answer.usage and answer.usage["input_tokens"] == input_tokens
    assert answer.usage["output_tokens"] == 7


def test_error_bodies_and_non_json() -> None:
    err = from_body(b'{"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}')
    assert err is not None and err.error == "slow down"
    assert from_body(b"not json") is None


def test_a_gemini_json_array_stream_is_read_as_events() -> None:
    docs = [json.loads(e.data) for e in fixture_events("gemini_stream.sse")]
    answer = from_body(json.dumps(docs).encode())
    assert answer is not None and answer.text == "Hello from the fake provider."
    assert answer.events == len(docs)


def test_usage_normalisation_and_format_detection() -> None:
    assert normalize_usage({"prompt_tokens": 5, "completion_tokens": 2,
                            "completion_tokens_details": {"reasoning_tokens": 1}}) == {
        "input_tokens": 5, "output_tokens": 2, "reasoning_tokens": 1}
    assert normalize_usage({"promptTokenCount": 4, "thoughtsTokenCount": 9}) == {
        "input_tokens": 4, "reasoning_tokens": 9}
    assert normalize_usage("nope") is None
    assert detect_format({"type": "response.created"}) == "openai_responses"
    assert detect_format({"candidates": []}) == "gemini"
    assert detect_format({"hello": 1}) == "unknown"
