"""OpenAI Responses reader/writer details."""

from __future__ import annotations

from ccproxy.wire import openai_responses
from ccproxy.wire.neutral import (
    ClientOptions,
    Image,
    Message,
    Request,
    Response,
    Text,
    ToolCall,
    ToolResult,
    Usage,
)


def test_string_input_and_server_state_warning() -> None:
    warnings: list[str] = []
    req = openai_responses.parse_request(
        {
            "model": "m",
            "input": "hi",
            "previous_response_id": "resp_1",
            "tools": [{"type": "web_search"}],
            "text": {"format": {"type": "json_schema"}},
        },
        warnings,
    )
    assert req.messages == [Message("user", [Text("hi")])]
    assert len(warnings) == 3 and any("previous_response_id" in w for w in warnings)


def test_calls_and_outputs_join_their_turns() -> None:
    req = openai_responses.parse_request(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "go"},
                {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "b", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "a", "output": "1"},
                {
                    "type": "function_call_output",
                    "call_id": "b",
                    "output": [{"type": "input_text", "text": "2"}],
                },
            ],
        },
        [],
    )
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    assert [p.call_id for p in req.messages[2].parts if isinstance(p, ToolResult)] == ["a", "b"]


def test_tool_output_with_an_image_is_a_list() -> None:
    msg = Message("user", [ToolResult("c", [Text("see"), Image(url="https://x/i.png")])])
    body = openai_responses.build_request(Request("m", [msg]), [])
    assert body["input"][0]["output"] == [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "image_url": "https://x/i.png"},
    ]


def test_incomplete_answers_and_tool_use() -> None:
    cut = openai_responses.parse_response(
        {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}, []
    )
    assert cut.stop_reason == "max_tokens"
    doc = openai_responses.build_response(
        Response("r", "m", [Text("x")], "max_tokens", usage=Usage(3, 4)), [], ClientOptions(created=1)
    )
    assert doc["status"] == "incomplete" and doc["incomplete_details"] == {"reason": "max_output_tokens"}
    assert doc["usage"]["total_tokens"] == 7 and doc["id"] == "resp_r"
    calls = openai_responses.build_response(
        Response("r", "m", [ToolCall("c", "f", {"a": 1})], "tool_use"), [], ClientOptions()
    )
    assert calls["status"] == "completed" and calls["output"][0]["arguments"] == '{"a":1}'


def test_requests_ask_for_non_strict_tools() -> None:
    from ccproxy.wire.neutral import Tool

    body = openai_responses.build_request(Request("m", [], tools=[Tool("f")], parallel_tool_calls=False), [])
    assert body["tools"][0]["strict"] is False and body["parallel_tool_calls"] is False
