"""Gemini reader/writer details."""

from __future__ import annotations

from ccproxy.wire import gemini
from ccproxy.wire.neutral import ApiError, Message, Reasoning, Request, Text, Thinking, ToolCall, ToolResult


def test_snake_case_fields_and_capital_schema_types() -> None:
    req = gemini.parse_request(
        {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "system_instruction": {"parts": [{"text": "sys"}]},
            "tools": [
                {
                    "function_declarations": [
                        {
                            "name": "f",
                            "parameters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
                        }
                    ]
                }
            ],
            "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": 0}},
        },
        [],
    )
    assert req.system == ["sys"] and req.max_tokens == 5 and req.reasoning == Reasoning(False)
    assert req.tools[0].parameters == {"type": "object", "properties": {"a": {"type": "string"}}}


def test_calls_without_ids_pair_with_results_by_name_in_order() -> None:
    req = gemini.parse_request(
        {
            "contents": [
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "f", "args": {}}},
                        {"functionCall": {"name": "g", "args": {}}},
                        {"functionCall": {"name": "f", "args": {"n": 2}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "f", "response": {"result": "one"}}},
                        {"functionResponse": {"name": "f", "response": {"x": 1}}},
                        {"functionResponse": {"name": "g", "response": {"error": "bad"}}},
                    ],
                },
            ]
        },
        [],
    )
    calls = [p for p in req.messages[0].parts if isinstance(p, ToolCall)]
    results = [p for p in req.messages[1].parts if isinstance(p, ToolResult)]
    assert [r.call_id for r in results] == [calls[0].id, calls[2].id, calls[1].id]
    assert [r.text for r in results] == ["one", '{"x": 1}', "bad"] and results[2].is_error


def test_tool_choice_any_with_one_name_is_that_tool() -> None:
    req = gemini.parse_request(
        {
            "contents": [],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        },
        [],
    )
    assert req.tool_choice is not None and (req.tool_choice.mode, req.tool_choice.name) == ("tool", "f")


def test_results_that_are_json_objects_stay_objects() -> None:
    body = gemini.build_request(
        Request(
            "m",
            [
                Message("assistant", [ToolCall("c", "f")]),
                Message("user", [ToolResult("c", [Text('{"t": 20}')])]),
            ],
        ),
        [],
    )
    assert body["contents"][1]["parts"][0]["functionResponse"] == {
        "id": "c",
        "name": "f",
        "response": {"t": 20},
    }


def test_blocked_prompt_and_streamed_thoughts_merge() -> None:
    blocked = gemini.parse_response({"promptFeedback": {"blockReason": "SAFETY"}}, [])
    assert blocked.stop_reason == "content_filter" and blocked.parts == []
    resp = gemini.parse_response(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "a", "thought": True},
                            {"text": "b", "thought": True, "thoughtSignature": "s"},
                            {"text": "x"},
                        ]
                    }
                }
            ]
        },
        [],
    )
    assert resp.parts == [Thinking("ab", "s"), Text("x")]


def test_errors_use_the_http_status_first() -> None:
    assert (
        gemini.parse_error(0, [{"error": {"code": 429, "message": "q", "status": "RESOURCE_EXHAUSTED"}}]).kind
        == "rate_limit"
    )
    assert (
        gemini.parse_error(503, {"error": {"code": 503, "message": "m", "status": "INTERNAL"}}).kind
        == "overloaded"
    )
    assert gemini.build_error(ApiError("overloaded", "busy")) == (
        503,
        {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
    )


def test_unknown_parts_and_settings_warn() -> None:
    warnings: list[str] = []
    gemini.parse_request(
        {
            "contents": [{"role": "user", "parts": [{"executableCode": {"code": "1"}}]}],
            "safetySettings": [{"category": "x"}],
            "generationConfig": {"candidateCount": 2, "responseMimeType": "application/json"},
        },
        warnings,
    )
    assert len(warnings) == 4
