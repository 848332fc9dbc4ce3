"""A synthetic agent session, shaped like Claude Code's traffic: every turn re-sends the whole conversation.

Turn 0 carries a ~12 KB system prompt and ~27 KB of tool schemas (~39 KB); each turn appends the
previous streamed answer (text + a tool call) and a tool result, about 1.5 KB a turn, and moves the
`cache_control` mark to the newest message, as agents do. Words come from a seeded generator, so the
text compresses like prose rather than like a repeated string. Used by the store tests and
`bench/store.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.record import FlowRecord
from ccproxy.store.sse import SSEParser
from tests.store.factory import make_record

_VOCAB = ["the", "store", "flow", "body", "chunk", "request", "agent", "turn", "message", "tool", "result", "file", "line", "code", "test", "value", "error", "read", "write", "path", "index", "table", "page", "answer", "stream", "event", "proxy", "client", "provider", "model", "token", "session", "cache", "schema", "byte", "hash", "retention", "vacuum", "json", "array", "object", "string", "number"]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_VOCAB) + ("." if rng.random() < 0.08 else "") for _ in range(n))


def _tool(rng: random.Random, i: int) -> dict[str, Any]:
    props = {f"arg_{j}": {"type": rng.choice(["string", "integer", "boolean"]), "description": words(rng, 22)}
             for j in range(6)}
    return {"name": f"tool_{i}", "description": words(rng, 60),
            "input_schema": {"type": "object", "properties": props, "required": ["arg_0"]}}


def answer_sse(rng: random.Random, turn: int) -> tuple[bytes, dict[str, Any]]:
    """A streamed Anthropic answer (text, then a tool call) and the assistant message it becomes."""
    text = words(rng, rng.randint(40, 90))
    tool_input = {"path": f"src/module_{turn}.py", "command": words(rng, 12)}
    msg_id, tool_id = f"msg_{turn:06d}", f"toolu_{turn:06d}"
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
            "stop_reason": None, "usage": {"input_tokens": 1000 + turn * 40, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
    ]
    pieces = text.split(" ")
    for k in range(0, len(pieces), 4):
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "text_delta", "text": " ".join(pieces[k : k + 4]) + " "}}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": tool_id, "name": "tool_1", "input": {}}}))
    events.append(("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {
        "type": "input_json_delta", "partial_json": json.dumps(tool_input)}}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                                     "usage": {"output_tokens": 120}}))
    events.append(("message_stop", {"type": "message_stop"}))
    sse = b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)
    message = {"role": "assistant", "content": [
        {"type": "text", "text": text.strip() + " "},
        {"type": "tool_use", "id": tool_id, "name": "tool_1", "input": tool_input},
    ]}
    return sse, message


def parse_events(sse: bytes, t0: float) -> list[SSEEvent]:
    events = SSEParser().feed(sse, now=t0)
    for i, ev in enumerate(events):
        ev.t = t0 + i * 0.01
    return events


@dataclass
class Turn:
    record: FlowRecord
    body: dict[str, Any]
    answer: bytes


def session(turns: int, seed: int = 0, ts: float = 1_700_000_000.0, tool_result_words: int = 116) -> Iterator[Turn]:
    """`turns` flows of one growing conversation, each a finished streamed flow through ccproxy."""
    rng = random.Random(seed)
    system = [{"type": "text", "text": words(rng, 1100)},
              {"type": "text", "text": words(rng, 200), "cache_control": {"type": "ephemeral"}}]
    tools = [_tool(rng, i) for i in range(20)]
    messages: list[dict[str, Any]] = [{"role": "user", "content": words(rng, 30)}]
    for turn in range(turns):
        last = dict(messages[-1])
        content = last["content"]
        if isinstance(content, list):
            last["content"] = [*content[:-1], {**content[-1], "cache_control": {"type": "ephemeral"}}]
        body = {"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": True,
                "system": system, "tools": tools, "messages": [*messages[:-1], last],
                "metadata": {"user_id": f"user_{seed:04d}_session"}}
        sse, reply = answer_sse(rng, turn)
        t = ts + turn * 30.0
        rec = make_record(ts=t, body=body, response_body=sse, upstream_events=parse_events(sse, t),
                          resp_headers=[["content-type", "text/event-stream"], ["request-id", f"req_{seed}_{turn}"]])
        yield Turn(rec, body, sse)
        result = {"type": "tool_result", "tool_use_id": reply["content"][1]["id"],
                  "content": words(rng, rng.randint(tool_result_words // 2, tool_result_words * 3 // 2))}
        messages += [reply, {"role": "user", "content": [result]}]
