"""Loop patterns read off one request body, in each wire format (pure)."""

from __future__ import annotations

from typing import Any

from ccproxy.sessions.loops import find_loops, history


def anthropic_body(n: int, result: str = "sunny", is_error: bool = False) -> dict[str, Any]:
    messages: list[Any] = [{"role": "user", "content": "go"}]
    for i in range(n):
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": f"t{i}", "name": "Read", "input": {"path": "a.py", "limit": 10}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"t{i}", "content": result, "is_error": is_error}]})
    return {"messages": messages}


def test_repeated_call_counts_identical_arguments_whatever_their_key_order() -> None:
    body = anthropic_body(3)
    body["messages"][3]["content"][0]["input"] = {"limit": 10, "path": "a.py"}
    [finding] = find_loops(history(body, "anthropic"), 3, 0, 0)
    assert (finding.rule, finding.count) == ("repeated_call", 3)
    assert finding.what == 'Read({"limit":10,"path":"a.py"})'
    assert find_loops(history(anthropic_body(2), "anthropic"), 3, 0, 0) == []


def test_repeated_errors_and_turns_with_nothing_new() -> None:
    steps = history(anthropic_body(4, "Error: no such file", is_error=True), "anthropic")
    rules = {f.rule: f.count for f in find_loops(steps, 0, 4, 3)}
    assert rules == {"repeated_error": 4, "no_progress": 3}
    assert find_loops(steps, 0, 5, 4) == []


def test_openai_responses_and_gemini_histories() -> None:
    chat = {"messages": [{"role": "user", "content": "go"}] + [
        m for i in range(2) for m in (
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"c{i}", "type": "function", "function": {"name": "ls", "arguments": '{"d": "."}'}}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": "ok"})]}
    assert [s.kind for s in history(chat, "openai")] == ["call", "say", "result", "call", "say", "result"]
    responses = {"input": [{"type": "function_call", "call_id": "c", "name": "ls", "arguments": '{"d":"."}'},
                           {"type": "function_call_output", "call_id": "c", "output": "ok"}] * 2}
    assert find_loops(history(responses, "openai_responses"), 2, 0, 0)[0].what == 'ls({"d":"."})'
    gemini = {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {"d": "."}}}]},
                           {"role": "user", "parts": [{"functionResponse": {"name": "ls", "response": {"ok": 1}}}]}] * 2}
    assert find_loops(history(gemini, "gemini"), 2, 0, 0)[0].count == 2
    assert history("not a body", "anthropic") == [] and history({}, "unknown") == []
