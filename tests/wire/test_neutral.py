"""Shared helpers of the neutral model."""

from __future__ import annotations

from ccproxy.wire.neutral import (
    ApiError,
    Image,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolResult,
    budget_of,
    convert_id,
    data_url,
    effort_of,
    fill_tool_names,
    kind_of_status,
    loads_arguments,
    parse_data_url,
)


def test_convert_id_swaps_known_prefixes_only() -> None:
    assert convert_id("msg_01AB", "chatcmpl-") == "chatcmpl-01AB"
    assert convert_id("chatcmpl-9", "resp_") == "resp_9"
    assert convert_id("resp_x", "resp_") == "resp_x"
    assert convert_id("e0EJaM", "msg_") == "msg_e0EJaM"


def test_loads_arguments_warns_instead_of_failing() -> None:
    warnings: list[str] = []
    assert loads_arguments('{"a": 1}', warnings, "f") == {"a": 1}
    assert loads_arguments("  ", warnings, "f") == {}
    assert warnings == []
    assert loads_arguments('{"a": ', warnings, "f") == {}
    assert loads_arguments("[1, 2]", warnings, "f") == {"value": [1, 2]}
    assert len(warnings) == 2 and "not valid JSON" in warnings[0]


def test_data_urls() -> None:
    image = parse_data_url("data:image/webp;base64,QUJD")
    assert image == Image("image/webp", "QUJD") and data_url(image) == "data:image/webp;base64,QUJD"
    assert parse_data_url("https://x/y.png") == Image(url="https://x/y.png")


def test_tool_results_get_the_name_of_their_call() -> None:
    messages = [
        Message("assistant", [ToolCall("c1", "alpha"), ToolCall("c2", "beta")]),
        Message("user", [ToolResult("c2", [Text("b")]), ToolResult("zz", [])]),
    ]
    fill_tool_names(messages)
    results = [p for p in messages[1].parts if isinstance(p, ToolResult)]
    assert [r.name for r in results] == ["beta", None]


def test_effort_and_budget_map_both_ways() -> None:
    assert effort_of(Reasoning(budget_tokens=1024)) == "low"
    assert effort_of(Reasoning(budget_tokens=8000)) == "medium"
    assert effort_of(Reasoning(budget_tokens=32000)) == "high"
    assert effort_of(Reasoning(effort="minimal")) == "minimal"
    assert budget_of(Reasoning(effort="high")) == 24576
    assert budget_of(Reasoning(budget_tokens=5000, effort="low")) == 5000


def test_error_kinds_and_statuses() -> None:
    assert kind_of_status(429) == "rate_limit" and kind_of_status(418) == "invalid_request"
    assert kind_of_status(502) == "server" and kind_of_status(529) == "overloaded"
    assert ApiError("overloaded", "x").status == 529
    assert ApiError("server", "x", 502).status == 502


def test_specific_statuses_beat_generic_error_types() -> None:
    from ccproxy.wire.neutral import pick_kind

    assert pick_kind(503, "server") == "overloaded"
    assert pick_kind(500, "overloaded") == "overloaded"
    assert pick_kind(400, "request_too_large") == "request_too_large"
    assert pick_kind(418, None) == "invalid_request" and pick_kind(0, None) == "server"
