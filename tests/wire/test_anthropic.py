"""Anthropic Messages reader/writer details the cross-format tests do not pin down."""

from __future__ import annotations

from ccproxy.wire import anthropic
from ccproxy.wire.neutral import (
    ApiError,
    ClientOptions,
    Message,
    Reasoning,
    Request,
    Response,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    Usage,
)


def test_server_tools_and_documents_are_dropped_with_warnings() -> None:
    warnings: list[str] = []
    req = anthropic.parse_request(
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "document", "source": {}}, {"type": "text", "text": "x"}],
                }
            ],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        },
        warnings,
    )
    assert req.tools == [] and req.messages[0].parts == [Text("x")]
    assert any("web_search" in w for w in warnings) and any("document" in w for w in warnings)


def test_max_tokens_is_required_so_a_default_is_sent_and_named() -> None:
    warnings: list[str] = []
    body = anthropic.build_request(Request("m", [Message("user", [Text("hi")])]), warnings)
    assert body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS and "max_tokens not given" in warnings[0]


def test_thinking_budget_stays_below_max_tokens_and_sampling_is_dropped() -> None:
    warnings: list[str] = []
    req = Request(
        "m",
        [Message("user", [Text("hi")])],
        max_tokens=2000,
        temperature=0.2,
        top_p=0.5,
        reasoning=Reasoning(effort="high"),
    )
    body = anthropic.build_request(req, warnings)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1999}
    assert "temperature" not in body and "top_p" not in body
    assert len(warnings) == 3
    small = anthropic.build_request(replace_max(req, 1000), [])
    assert "thinking" not in small


def replace_max(req: Request, value: int) -> Request:
    req.max_tokens = value
    return req


def test_unsigned_thinking_is_not_sent_and_tool_results_lead_their_turn() -> None:
    warnings: list[str] = []
    req = Request(
        "m",
        [
            Message("assistant", [Thinking("from openai"), ToolCall("c", "f", {})]),
            Message("user", [Text("and"), ToolResult("c", [Text("r")])]),
            Message("user", [Text("more")]),
        ],
        max_tokens=5,
    )
    body = anthropic.build_request(req, warnings)
    assert body["messages"][0]["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_result", "text", "text"]
    assert "signature" in warnings[0]


def test_parallel_tool_use_off() -> None:
    req = Request("m", [], max_tokens=5, tools=[], parallel_tool_calls=False)
    assert anthropic.build_request(req, [])["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    parsed = anthropic.parse_request(
        {"model": "m", "messages": [], "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}, []
    )
    assert (
        parsed.tool_choice is not None
        and parsed.tool_choice.mode == "any"
        and parsed.parallel_tool_calls is False
    )


def test_usage_keeps_cache_reads_and_writes_apart() -> None:
    usage = anthropic.usage_in(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "output_tokens": 3,
        }
    )
    assert usage == Usage(17, 3, 5, 2, 0)
    assert anthropic.usage_out(usage)["input_tokens"] == 10


def test_response_thinking_without_signature_gets_an_empty_one() -> None:
    doc = anthropic.build_response(Response("x", "m", [Thinking("t")], "end_turn"), [], ClientOptions())
    assert doc["content"] == [{"type": "thinking", "thinking": "t", "signature": ""}]
    assert doc["id"] == "msg_x"


def test_errors() -> None:
    assert (
        anthropic.parse_error(
            400, {"type": "error", "error": {"type": "overloaded_error", "message": "o"}}
        ).kind
        == "overloaded"
    )
    assert anthropic.parse_error(404, "gone").kind == "not_found"
    assert anthropic.build_error(ApiError("overloaded", "busy", 503))[0] == 529
    assert anthropic.build_error(ApiError("rate_limit", "slow"))[1]["error"]["type"] == "rate_limit_error"
