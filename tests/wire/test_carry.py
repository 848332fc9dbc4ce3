"""What a provider needs back survives a client that has no field for it (`wire/carry.py`).

Each test takes a recorded answer, translates it for a client, builds that client's next turn the
way agent CLIs do (the assistant's calls by id, the tool results; no provider-specific fields), and
checks what the next upstream request carries: Gemini's thought signature on its function call,
Anthropic's signed thinking block first in the assistant turn.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccproxy.wire import carry, translate
from ccproxy.wire.neutral import ClientOptions, Loss, Thinking
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.translate import StreamTranslator, translate_request, translate_response
from tests.wire.golden import load_bytes, load_json

CLIENTS = ("anthropic", "openai", "openai_responses")
GEMINI3 = load_json("gemini3_tool_call.json")
SIGNATURE = GEMINI3["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
QUESTION = "What is the weather in Paris and Rome?"


# --- pack / unpack ---------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True).filter(lambda s: carry.MARK not in s),
    st.one_of(st.none(), st.text(min_size=1, max_size=300)),
    st.lists(
        st.builds(Thinking, st.text(max_size=200), st.one_of(st.none(), st.text(min_size=1)), st.none()),
        max_size=3,
    ),
)
def test_pack_round_trips_and_stays_a_valid_tool_use_id(
    call_id: str, signature: str | None, thinking: list[Thinking]
) -> None:
    packed = carry.pack(call_id, signature, thinking)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", packed), "Anthropic's tool_use id pattern"
    assert carry.unpack(packed) == (call_id, signature, thinking)
    assert (packed == call_id) == (not signature and not thinking)


def test_a_damaged_suffix_yields_the_plain_id() -> None:
    assert carry.unpack("call_1" + carry.MARK + "not-zlib") == ("call_1", None, [])
    assert carry.unpack("toolu_01A") == ("toolu_01A", None, [])


# --- the next turn, as each client sends it ----------------------------------------------------------


def calls_of(client: str, doc: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, name, arguments) of the tool calls in a translated answer."""
    if client == "anthropic":
        return [(b["id"], b["name"], b["input"]) for b in doc["content"] if b["type"] == "tool_use"]
    if client == "openai":
        calls = doc["choices"][0]["message"]["tool_calls"]
        return [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
    return [
        (i["call_id"], i["name"], json.loads(i["arguments"]))
        for i in doc["output"]
        if i["type"] == "function_call"
    ]


def stream_calls(client: str, body: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """The same from a translated stream, folded the way each SDK's accumulator does."""
    calls: dict[int, list[Any]] = {}
    for sse in SSEReader().feed(body):
        if sse.data == "[DONE]":
            continue
        doc = json.loads(sse.data)
        if (
            client == "anthropic"
            and doc["type"] == "content_block_start"
            and doc["content_block"]["type"] == "tool_use"
        ):
            calls[doc["index"]] = [doc["content_block"]["id"], doc["content_block"]["name"], ""]
        elif (
            client == "anthropic"
            and doc["type"] == "content_block_delta"
            and doc["delta"]["type"] == "input_json_delta"
        ):
            calls[doc["index"]][2] += doc["delta"]["partial_json"]
        elif client == "openai":
            for choice in doc.get("choices") or []:
                for call in choice["delta"].get("tool_calls") or []:
                    entry = calls.setdefault(call["index"], ["", "", ""])
                    entry[0] = call.get("id") or entry[0]
                    entry[1] = call.get("function", {}).get("name") or entry[1]
                    entry[2] += call.get("function", {}).get("arguments") or ""
        elif client == "openai_responses" and doc["type"] == "response.output_item.done":
            item = doc["item"]
            if item["type"] == "function_call":
                calls[doc["output_index"]] = [item["call_id"], item["name"], item["arguments"]]
    return [(i, n, json.loads(a or "{}")) for i, n, a in calls.values()]


def next_turn(client: str, calls: list[tuple[str, str, dict[str, Any]]], model: str) -> dict[str, Any]:
    """The client's follow-up: the calls by id and their results, nothing provider-specific."""
    if client == "anthropic":
        uses = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
        results = [{"type": "tool_result", "tool_use_id": i, "content": "sunny"} for i, _, _ in calls]
        return {
            "model": model,
            "max_tokens": 4000,
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "messages": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": uses},
                {"role": "user", "content": results},
            ],
        }
    if client == "openai":
        tool_calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in calls
        ]
        return {
            "model": model,
            "reasoning_effort": "low",
            "messages": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": None, "tool_calls": tool_calls},
                *({"role": "tool", "tool_call_id": i, "content": "sunny"} for i, _, _ in calls),
            ],
        }
    return {
        "model": model,
        "reasoning": {"effort": "low"},
        "input": [
            {"role": "user", "content": QUESTION},
            *(
                {"type": "function_call", "call_id": i, "name": n, "arguments": json.dumps(a)}
                for i, n, a in calls
            ),
            *({"type": "function_call_output", "call_id": i, "output": "sunny"} for i, _, _ in calls),
        ],
    }


def translated_stream(upstream: str, client: str, raw: bytes) -> bytes:
    translator = StreamTranslator(upstream, client, ClientOptions(created=1))
    return b"".join(translator(raw[i : i + 50]) for i in range(0, len(raw), 50)) + translator(b"")


# --- Gemini 3: thought signatures ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("client", CLIENTS)
def test_gemini_signature_comes_back_on_its_function_call(client: str, stream: bool) -> None:
    if stream:
        calls = stream_calls(
            client, translated_stream("gemini", client, load_bytes("gemini3_tool_call_stream.sse"))
        )
    else:
        doc, _ = translate_response(json.dumps(GEMINI3), "gemini", client, ClientOptions(created=1), [])
        calls = calls_of(client, doc)
    assert [(n, a) for _, n, a in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    out = translate_request(json.dumps(next_turn(client, calls, "gemini-3-pro-preview")), client, "gemini")
    model_turn, results = out.body["contents"][1:]
    assert model_turn["parts"][0]["thoughtSignature"] == SIGNATURE
    assert "thoughtSignature" not in model_turn["parts"][1]  # parallel calls: only the first is signed
    ids = [p["functionCall"]["id"] for p in model_turn["parts"]]
    assert [p["functionResponse"]["id"] for p in results["parts"]] == ids
    assert not any(carry.MARK in i for i in ids) and not any(isinstance(w, Loss) for w in out.warnings)


def test_lost_signature_gets_googles_placeholder_on_gemini3_only() -> None:
    calls = [("call_renamed", "get_weather", {"city": "Paris"})]
    out = translate_request(
        json.dumps(next_turn("openai", calls, "gemini-3-pro-preview")), "openai", "gemini"
    )
    assert out.body["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert [w for w in out.warnings if isinstance(w, Loss)] == [
        "a function call in the current turn has no Gemini thought signature (the client dropped or changed "
        "the tool-call id ccproxy gave it, or another model made the call); sent Google's "
        "'skip_thought_signature_validator' placeholder, which Gemini 3 accepts with degraded reasoning"
    ]
    older = translate_request(json.dumps(next_turn("openai", calls, "gemini-2.5-flash")), "openai", "gemini")
    assert "thoughtSignature" not in older.body["contents"][1]["parts"][0] and not older.warnings


def test_only_the_current_turn_needs_signatures() -> None:
    body = next_turn("openai", [("call_old", "get_weather", {"city": "Paris"})], "gemini-3-pro-preview")
    body["messages"] += [{"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "Thanks!"}]
    out = translate_request(json.dumps(body), "openai", "gemini")
    assert "thoughtSignature" not in out.body["contents"][1]["parts"][0] and not out.warnings


# --- Anthropic thinking behind OpenAI clients ------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("client", ["openai", "openai_responses"])
def test_signed_thinking_comes_back_before_the_tool_calls(client: str, stream: bool) -> None:
    if stream:
        calls = stream_calls(
            client, translated_stream("anthropic", client, load_bytes("anthropic_stream.sse"))
        )
    else:
        raw = json.dumps(load_json("anthropic_response.json"))
        calls = calls_of(
            client, translate_response(raw, "anthropic", client, ClientOptions(created=1), [])[0]
        )
    out = translate_request(json.dumps(next_turn(client, calls, "claude-sonnet-4-5")), client, "anthropic")
    assistant = out.body["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Two cities, so two calls.",
        "signature": "EqQBCkYIBxgCKkBsig==",
    }
    assert [b["id"] for b in assistant[1:]] == ["toolu_01A", "toolu_01B"]
    assert [b["tool_use_id"] for b in out.body["messages"][2]["content"]] == ["toolu_01A", "toolu_01B"]
    assert out.body["thinking"]["type"] == "enabled" and not any(isinstance(w, Loss) for w in out.warnings)


def test_thinking_the_client_sent_back_itself_is_not_doubled() -> None:
    raw = json.dumps(load_json("anthropic_response.json"))
    doc, _ = translate_response(raw, "anthropic", "openai_responses", ClientOptions(created=1), [])
    body = next_turn("openai_responses", calls_of("openai_responses", doc), "claude")
    reasoning = next(i for i in doc["output"] if i["type"] == "reasoning")
    body["input"].insert(1, {k: v for k, v in reasoning.items() if k != "id"})
    out = translate_request(json.dumps(body), "openai_responses", "anthropic")
    kinds = [b["type"] for b in out.body["messages"][1]["content"]]
    assert kinds == ["thinking", "tool_use", "tool_use"]


def test_lost_thinking_turns_thinking_off_with_a_loss() -> None:
    calls = [("call_renamed", "get_weather", {"city": "Paris"})]
    out = translate_request(json.dumps(next_turn("openai", calls, "claude")), "openai", "anthropic")
    assert "thinking" not in out.body
    assert [w for w in out.warnings if isinstance(w, Loss)] == [carry.THINKING_LOST]
    fresh = {"model": "claude", "reasoning_effort": "low", "messages": [{"role": "user", "content": "hi"}]}
    assert translate_request(json.dumps(fresh), "openai", "anthropic").body["thinking"]["type"] == "enabled"


def test_a_loss_is_logged_once_per_conversation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ccproxy.wire")
    translate._LOGGED.clear()
    calls = [("call_renamed", "get_weather", {"city": "Paris"})]
    first = next_turn("openai", calls, "claude")
    other = json.loads(json.dumps(first).replace(QUESTION, "And in Oslo?"))
    for body in (first, first, other, first):
        out = translate_request(json.dumps(body), "openai", "anthropic")
        assert carry.THINKING_LOST in out.warnings  # every flow records it
    lines = [r.getMessage() for r in caplog.records if "signed thinking" in r.getMessage()]
    assert len(lines) == 2 and lines[0] != lines[1]  # one per conversation


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_gemini_client_sends_anthropic_thinking_back_as_signed_thought_parts(stream: bool) -> None:
    """A Gemini client has a field for it: thought parts with `thoughtSignature`, echoed as they came."""
    if stream:
        body = translated_stream("anthropic", "gemini", load_bytes("anthropic_stream.sse"))
        parts = [
            p for s in SSEReader().feed(body) for p in json.loads(s.data)["candidates"][0]["content"]["parts"]
        ]
        parts = [p for p in parts if p.get("text") or p.get("thoughtSignature") or "functionCall" in p]
    else:
        raw = json.dumps(load_json("anthropic_response.json"))
        doc, _ = translate_response(raw, "anthropic", "gemini", ClientOptions(created=1), [])
        parts = doc["candidates"][0]["content"]["parts"]
    results = [
        {"functionResponse": {"name": p["functionCall"]["name"], "response": {"output": "sunny"}}}
        for p in parts
        if "functionCall" in p
    ]
    body_next = {
        "contents": [
            {"role": "user", "parts": [{"text": QUESTION}]},
            {"role": "model", "parts": parts},
            {"role": "user", "parts": results},
        ],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 2000}, "maxOutputTokens": 4000},
    }
    out = translate_request(json.dumps(body_next), "gemini", "anthropic", path_model="claude")
    assistant = out.body["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Two cities, so two calls.",
        "signature": "EqQBCkYIBxgCKkBsig==",
    }
    assert out.body["thinking"]["type"] == "enabled"


def test_redacted_thinking_in_a_stream_comes_back_too() -> None:
    def ev(doc: dict[str, Any]) -> str:
        return f"event: {doc['type']}\ndata: {json.dumps(doc)}\n\n"

    usage = {"input_tokens": 10, "output_tokens": 1}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [],
        "usage": usage,
    }
    tool = {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}
    raw = "".join(
        ev(d)
        for d in [
            {"type": "message_start", "message": message},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": tool},
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'},
            },
            {"type": "content_block_stop", "index": 1},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
            {"type": "message_stop"},
        ]
    ).encode()
    calls = stream_calls("openai", translated_stream("anthropic", "openai", raw))
    out = translate_request(json.dumps(next_turn("openai", calls, "claude")), "openai", "anthropic")
    assistant = out.body["messages"][1]["content"]
    assert assistant[0] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"}
    assert assistant[1]["id"] == "toolu_01A" and out.body["thinking"]["type"] == "enabled"
    anthropic_events = [
        json.loads(s.data) for s in SSEReader().feed(translated_stream("anthropic", "anthropic", raw))
    ]
    assert anthropic_events[1]["content_block"] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy3"}
