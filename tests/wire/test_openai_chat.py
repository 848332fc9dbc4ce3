"""OpenAI Chat Completions reader/writer details."""

from __future__ import annotations

from ccproxy.wire import openai_chat
from ccproxy.wire.neutral import (
    ClientOptions,
    Image,
    Message,
    Reasoning,
    Request,
    Response,
    Text,
    Thinking,
    ToolResult,
)


def test_developer_and_late_system_messages_become_the_system_prompt() -> None:
    warnings: list[str] = []
    req = openai_chat.parse_request(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "rules"},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": [{"type": "text", "text": "late"}]},
            ],
        },
        warnings,
    )
    assert req.system == ["rules", "late"] and "moved into the system prompt" in warnings[0]


def test_openai_only_parameters_are_named_when_dropped() -> None:
    warnings: list[str] = []
    openai_chat.parse_request(
        {
            "model": "m",
            "messages": [],
            "n": 1,
            "seed": 4,
            "logprobs": False,
            "response_format": {"type": "json_object"},
        },
        warnings,
    )
    assert sorted(w.split()[0] for w in warnings) == ["response_format", "seed"]


def test_reasoning_effort_none_disables_reasoning() -> None:
    req = openai_chat.parse_request({"model": "m", "messages": [], "reasoning_effort": "none"}, [])
    assert req.reasoning == Reasoning(False)
    body = openai_chat.build_request(Request("m", [], reasoning=Reasoning(budget_tokens=30000)), [])
    assert body["reasoning_effort"] == "high"


def test_tool_result_images_and_errors() -> None:
    warnings: list[str] = []
    msg = Message(
        "user", [ToolResult("c", [Text("bad"), Image("image/png", "AA")], is_error=True), Text("next")]
    )
    body = openai_chat.build_request(Request("m", [msg]), warnings)
    assert body["messages"] == [
        {"role": "tool", "tool_call_id": "c", "content": "Error: bad"},
        {"role": "user", "content": "next"},
    ]
    assert "image in a tool result" in warnings[0]


def test_refusal_and_reasoning_content_in_answers() -> None:
    resp = openai_chat.parse_response(
        {
            "choices": [
                {
                    "message": {"content": None, "refusal": "no", "reasoning_content": "why"},
                    "finish_reason": "stop",
                }
            ]
        },
        [],
    )
    assert resp.stop_reason == "refusal" and resp.parts == [Thinking("why"), Text("no")]
    doc = openai_chat.build_response(
        Response("i", "m", [Thinking("why"), Text("no")], "refusal"), [], ClientOptions(created=5)
    )
    message = doc["choices"][0]["message"]
    assert message["refusal"] == "no" and message["content"] is None and message["reasoning_content"] == "why"
    assert doc["choices"][0]["finish_reason"] == "content_filter" and doc["created"] == 5


def test_extra_choices_and_bad_arguments_warn() -> None:
    warnings: list[str] = []
    body = {
        "choices": [
            {
                "message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]},
                "finish_reason": "tool_calls",
            },
            {"message": {"content": "second"}},
        ]
    }
    resp = openai_chat.parse_response(body, warnings)
    assert resp.stop_reason == "tool_use" and len(warnings) == 2


def test_stream_options_ask_for_usage_when_streaming() -> None:
    body = openai_chat.build_request(
        Request("m", [], stop=["a", "b", "c", "d", "e"], stream=True, top_k=3), warnings := []
    )
    assert body["stream_options"] == {"include_usage": True} and body["stop"] == ["a", "b", "c", "d"]
    assert len(warnings) == 2
