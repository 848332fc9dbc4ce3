from __future__ import annotations

from ccproxy.flows.conversation import conversation_id, first_user_text, model_of, parse_json

ANTHROPIC_TURN1 = {"model": "claude-x", "system": "be brief",
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "Plan a trip"}]}]}
ANTHROPIC_TURN2 = {"model": "claude-x", "system": "be brief", "messages": [
    {"role": "user", "content": [{"type": "text", "text": "Plan a trip"}]},
    {"role": "assistant", "content": "Where to?"},
    {"role": "user", "content": "Paris"},
]}
OPENAI = {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": "Plan a trip"}]}
RESPONSES_STR = {"model": "gpt-4.1", "input": "Plan a trip"}
RESPONSES_ITEMS = {"model": "gpt-4.1", "input": [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Plan a trip"}]},
    {"type": "function_call_output", "call_id": "c1", "output": "{}"},
]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "Plan a trip"}]},
                       {"role": "model", "parts": [{"text": "Where to?"}]}]}


def test_every_turn_of_a_conversation_gets_the_same_id() -> None:
    first, second = conversation_id(ANTHROPIC_TURN1), conversation_id(ANTHROPIC_TURN2)
    assert first is not None and len(first) == 16
    assert first == second


def test_the_same_opening_gives_the_same_id_in_every_wire_format() -> None:
    ids = {conversation_id(b) for b in (ANTHROPIC_TURN1, OPENAI, RESPONSES_STR, RESPONSES_ITEMS, GEMINI)}
    assert len(ids) == 1


def test_different_openings_differ_and_no_user_message_gives_none() -> None:
    other = {"messages": [{"role": "user", "content": "Write a poem"}]}
    assert conversation_id(other) != conversation_id(OPENAI)
    assert conversation_id({"messages": [{"role": "system", "content": "x"}]}) is None
    assert conversation_id(None) is None
    assert first_user_text(RESPONSES_ITEMS) == "Plan a trip"


def test_model_comes_from_the_body_or_a_gemini_path() -> None:
    assert model_of(OPENAI) == "gpt-4o"
    assert model_of(GEMINI, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse") == "gemini-2.5-flash"
    assert model_of(None, "/v1/messages") is None


def test_parse_json_only_parses_json() -> None:
    assert parse_json(b'{"a": 1}') == {"a": 1}
    assert parse_json(b"plain") is None
    assert parse_json(b"{broken") is None
    assert parse_json(b"") is None
