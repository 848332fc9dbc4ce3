from __future__ import annotations

from ccproxy.store.conversation import conversation_id, conversations, first_user_text, model_of, parse_json

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


def flow_doc(fid: str, cid: str | None, ts: float, status: int | None = 200, **ccp: object) -> dict[str, object]:
    """The parts of a stored flow's JSON that grouping reads."""
    doc: dict[str, object] = {"id": fid, "request": {"timestamp_start": ts},
                              "ccproxy": {"conversation_id": cid, **ccp}}
    if status is not None:
        doc["response"] = {"status_code": status}
    return doc


def test_conversations_group_by_id_in_order_of_latest_activity() -> None:
    docs = [
        flow_doc("a1", "conv-a", 10.0, model="claude-x", session_id="s1", usage={"input_tokens": 3}),
        flow_doc("b1", "conv-b", 20.0, model="gpt-4o", client_request={"timestamp_start": 19.5}),
        flow_doc("n1", None, 25.0),
        flow_doc("a2", "conv-a", 30.0, status=None, model="claude-y", session_id="s1",
                 usage={"input_tokens": 4, "output_tokens": 2, "note": "x"}),
    ]
    b, a = conversations(docs)
    assert (b["conversation_id"], b["flow_ids"], b["first"]) == ("conv-b", ["b1"], "1970-01-01T00:00:19.500Z")
    assert a["flow_ids"] == ["a1", "a2"] and a["flows"] == 2
    assert (a["first"], a["last"]) == ("1970-01-01T00:00:10.000Z", "1970-01-01T00:00:30.000Z")
    assert a["models"] == ["claude-x", "claude-y"] and a["sessions"] == ["s1"]
    assert a["statuses"] == {"200": 1, "error": 1}
    assert a["usage"] == {"input_tokens": 7, "output_tokens": 2}
    assert conversations([{"id": "x", "ccproxy": {}}]) == []


def test_a_long_conversation_lists_only_its_newest_ids() -> None:
    [group] = conversations([flow_doc(f"f{i}", "c", float(i)) for i in range(60)])
    assert group["flows"] == 60 and group["flow_ids"] == [f"f{i}" for i in range(10, 60)]
    assert group["flow_ids_note"] == "the newest 50 of 60"
