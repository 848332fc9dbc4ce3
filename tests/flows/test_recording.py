"""Recordings: the file round trip, which recorded flow answers a request, and the answer in the client's format."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from ccproxy.errors import ConfigError
from ccproxy.flows.recorded_answer import Refusal, Replayed, replay
from ccproxy.flows.recording import Match, Miss, Recording, read_recording, write_recording
from ccproxy.store.stored_flow import StoredFlow
from tests.store.factory import fixture_events, make_record


def flow(body: dict[str, Any], **kw: Any) -> StoredFlow:
    rec = make_record(body=body, **kw)
    return StoredFlow(rec.doc, rec.parts)


def convo(*texts: str, model: str = "claude-x", **extra: Any) -> dict[str, Any]:
    roles = ["user", "assistant"]
    return {"model": model, "messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(texts)], **extra}


def test_exact_then_longest_prefix_with_the_same_model() -> None:
    one, two, other = flow(convo("a")), flow(convo("a", "b", "c")), flow(convo("a", "b", "c", model="gpt-x"))
    rec = Recording([one, two, other])
    exact = rec.match(json.dumps(convo("a", "b", "c")).encode())
    assert isinstance(exact, Match) and (exact.flow.id, exact.how) == (two.id, "exact")
    near = rec.match(json.dumps(convo("a", "b", "c", "d", "e")).encode())
    assert isinstance(near, Match) and (near.flow.id, near.how, near.common) == (two.id, "prefix", 3)
    tie = rec.match(json.dumps(convo("a", "x")).encode())  # both share one message: the closer length wins
    assert isinstance(tie, Match) and tie.flow.id == one.id
    moved = {"model": "claude-x", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]}, {"role": "assistant", "content": "b"}]}
    assert isinstance(rec.match(json.dumps(moved).encode()), Match)  # cache_control does not break a prefix


def test_a_miss_names_the_closest_recorded_flow() -> None:
    recorded = flow(convo("a", "b", "c", model="gpt-x"))
    miss = Recording([recorded, flow(convo("a"), status=500)]).match(json.dumps(convo("a", "b")).encode())
    assert isinstance(miss, Miss) and miss.closest is not None and miss.closest.id == recorded.id
    text = miss.message("offline")
    assert "'offline'" in text and recorded.id[:8] in text and "2 message(s) in common" in text
    assert "unmatched:" in text


def test_the_recording_file_round_trip_is_private_and_redacted(tmp_path: Path) -> None:
    secret = flow({**convo("hi"), "api_key": "sk-live-do-not-keep"})
    path = tmp_path / "rec.json"
    write_recording(path, [secret])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (back,) = read_recording(path)
    assert back.id == secret.id and back.body("response") == secret.body("response")
    assert b"sk-live-do-not-keep" not in (back.body("client_request") or b"") + (back.body("request") or b"")
    assert b"messages" in (back.body("client_request") or b"") and "raw_headers" not in back.parts
    assert "sk-real-secret-key-123" not in json.dumps(back.doc)  # the injected key was masked on the flow
    write_recording(path, [secret], redacted=False)
    (kept,) = read_recording(path)
    assert b"sk-live-do-not-keep" in (kept.body("client_request") or b"")
    path.write_text(json.dumps({"kind": "ccproxy-recording", "version": 99, "flows": []}))
    with pytest.raises(ConfigError, match="version 99"):
        read_recording(path)
    path.write_text("[]")
    with pytest.raises(ConfigError, match="not a ccproxy recording"):
        read_recording(path)


def test_the_answer_in_the_clients_format() -> None:
    answer = json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                         "content": [{"type": "text", "text": "recorded!"}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": 3, "output_tokens": 2}}).encode()
    recorded = flow(convo("hi"), response_body=answer)
    same = replay(recorded, "anthropic", json.dumps(convo("hi")).encode(), "/v1/messages")
    assert isinstance(same, Replayed) and same.body == answer and not same.streamed
    chat = replay(recorded, "openai", json.dumps(convo("hi")).encode(), "/v1/chat/completions")
    assert isinstance(chat, Replayed)
    doc = json.loads(chat.body)
    assert doc["choices"][0]["message"]["content"] == "recorded!" and doc["usage"]["completion_tokens"] == 2
    wrong = replay(recorded, "anthropic", json.dumps(convo("hi", stream=True)).encode(), "/v1/messages")
    assert isinstance(wrong, Refusal) and "asked for a stream" in wrong.message


def test_a_recorded_stream_keeps_its_pace_and_translates() -> None:
    events = fixture_events("anthropic_stream_text.sse")
    recorded = flow(convo("hi", stream=True), upstream_events=events,
                    resp_headers=[["content-type", "text/event-stream"]])
    body = json.dumps(convo("hi", stream=True)).encode()
    same = replay(recorded, "anthropic", body, "/v1/messages")
    assert isinstance(same, Replayed) and same.streamed and len(same.chunks) == len(events)
    offsets = [t for t, _ in same.chunks]
    assert offsets == sorted(offsets) and offsets[-1] - offsets[0] == pytest.approx(events[-1].t - events[0].t)
    chat = replay(recorded, "openai", json.dumps(convo("hi", stream=True)).encode(), "/v1/chat/completions")
    assert isinstance(chat, Replayed) and chat.streamed
    text = b"".join(c for _, c in chat.chunks).decode()
    assert "chat.completion.chunk" in text and text.rstrip().endswith("data: [DONE]")
