"""A recorded-looking Claude Code session: a main conversation that spawns a Task subagent, then loses its cache.

Turn by turn (session id in `x-claude-code-session-id`, times in seconds after T0):
  main 0  (t=0)    cold start; answers with a Task tool_use whose prompt opens the subagent
  sub  0  (t=5)    the subagent's first turn (streamed, valid Anthropic SSE)
  sub  1  (t=8)    the subagent continues
  main 1  (t=12)   the Task's tool_result comes back: cache read = what turn 0 wrote
  main 2  (t=412)  400 s later: the 5 min TTL expired, nothing read
  main 3  (t=420)  system[1].text edited at offset 12: prefix drift
  other   (t=430)  a translated stream (OpenAI client, Anthropic upstream) whose client side lost a role chunk
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.record import FlowRecord
from tests.store.factory import make_record

T0 = 1_780_000_000.0
SESSION = "5f0c2a9e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"
HEADERS = [("content-type", "application/json"), ("x-api-key", "sk-ant-oat-ccproxy-anthropic"),
           ("x-claude-code-session-id", SESSION)]
SUBAGENT_PROMPT = "Find where parse_config drops the port"
SYSTEM: list[dict[str, Any]] = [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
          {"type": "text", "text": "Working dir: /src/app. Follow the repository's style.",
           "cache_control": {"type": "ephemeral"}}]
TOOLS: list[dict[str, Any]] = [{"name": "Task", "description": "Launch a subagent", "input_schema": {"type": "object"}},
         {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}]


def _body(messages: list[dict[str, Any]], system: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    msgs = copy.deepcopy(messages)
    for msg in msgs:  # Claude Code sends content as blocks, a breakpoint on the newest one
        if isinstance(msg["content"], str):
            msg["content"] = [{"type": "text", "text": msg["content"]}]
    msgs[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return {"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": system or SYSTEM, "tools": TOOLS,
            "messages": msgs, "stream": False}


def _answer(content: list[dict[str, Any]], stop: str, usage: dict[str, int]) -> bytes:
    return json.dumps({"id": "msg_x", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                       "content": content, "stop_reason": stop, "usage": usage}).encode()


def _usage(read: int, write: int, inp: int = 12, out: int = 40) -> dict[str, int]:
    return {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write}


def anthropic_events(text: str, usage: dict[str, int], t0: float) -> list[SSEEvent]:
    docs: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
                                              "model": "claude-sonnet-4-5", "content": [], "usage": usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[:10]}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[10:]}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    return [SSEEvent(t0 + 0.2 + i * 0.05, json.dumps(d), d["type"]) for i, d in enumerate(docs)]


def chat_events(text: str, t0: float, *, with_role: bool = True) -> list[SSEEvent]:
    base = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "claude-sonnet-4-5"}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}] if with_role else []
    deltas += [{"content": text[:10]}, {"content": text[10:]}]
    chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9}})
    events = [SSEEvent(t0 + 0.3 + i * 0.05, json.dumps(c)) for i, c in enumerate(chunks)]
    return [*events, SSEEvent(t0 + 0.6, "[DONE]")]


def records() -> list[FlowRecord]:
    """The session's flows, in the order the recorder would have written them."""
    u0 = {"role": "user", "content": "The server ignores the port in config.yaml; fix it"}
    task_use = {"type": "tool_use", "id": "toolu_task1", "name": "Task",
                "input": {"description": "find the bug", "prompt": SUBAGENT_PROMPT}}
    a0 = {"role": "assistant", "content": [task_use]}
    u1 = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_task1",
                                       "content": "parse_config() reads `port` from the wrong section"}]}
    a1 = {"role": "assistant", "content": [{"type": "text", "text": "Found it; fixing."}]}
    u2 = {"role": "user", "content": "Also add a test"}
    a2 = {"role": "assistant", "content": [{"type": "text", "text": "Added."}]}
    u3 = {"role": "user", "content": "Thanks, run it"}
    s0 = {"role": "user", "content": SUBAGENT_PROMPT}
    s_a0 = {"role": "assistant", "content": [{"type": "text", "text": "Looking at config.py"}]}
    s1 = {"role": "user", "content": "continue"}
    drifted = copy.deepcopy(SYSTEM)
    drifted[1]["text"] = drifted[1]["text"].replace("/src/app", "/src/app2")

    def main(fid: str, ts: float, msgs: list[dict[str, Any]], answer: bytes,
             system: list[dict[str, Any]] | None = None) -> FlowRecord:
        return make_record(fid=fid, ts=T0 + ts, body=_body(msgs, system), client_headers=HEADERS, response_body=answer)

    text_answer = _answer([{"type": "text", "text": "done"}], "end_turn", _usage(0, 0))
    sub0_events = anthropic_events("Looking at config.py", _usage(0, 600), T0 + 5)
    sub_body0 = {**_body([s0]), "stream": True}
    return [
        main("a0000000-0000-4000-8000-000000000000", 0, [u0],
             _answer([task_use], "tool_use", _usage(0, 1800))),
        make_record(fid="b0000000-0000-4000-8000-000000000000", ts=T0 + 5, body=sub_body0, client_headers=HEADERS,
                    response_body=b"", resp_headers=[["content-type", "text/event-stream"]],
                    upstream_events=sub0_events),
        make_record(fid="b1000000-0000-4000-8000-000000000000", ts=T0 + 8, body=_body([s0, s_a0, s1]),
                    client_headers=HEADERS, response_body=_answer(
                        [{"type": "text", "text": "parse_config() reads `port` from the wrong section"}],
                        "end_turn", _usage(600, 90))),
        main("a1000000-0000-4000-8000-000000000000", 12, [u0, a0, u1],
             _answer([{"type": "text", "text": "Found it; fixing."}], "end_turn", _usage(1800, 150))),
        main("a2000000-0000-4000-8000-000000000000", 412, [u0, a0, u1, a1, u2],
             _answer([{"type": "text", "text": "Added."}], "end_turn", _usage(0, 2000))),
        main("a3000000-0000-4000-8000-000000000000", 420, [u0, a0, u1, a1, u2, a2, u3], text_answer, drifted),
        translated_record(),
    ]


def translated_record() -> FlowRecord:
    """An OpenAI Chat client served by an Anthropic upstream; the translated client stream has no role chunk."""
    t0 = T0 + 430
    body = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "Say hi"}]}
    return make_record(fid="c0000000-0000-4000-8000-000000000000", ts=t0, body=body, path="/v1/chat/completions",
                       client_headers=HEADERS, response_body=b"", resp_headers=[["content-type", "text/event-stream"]],
                       upstream_events=anthropic_events("Hello there, friend", _usage(0, 0, 5, 9), t0),
                       client_events=chat_events("Hello there, friend", t0, with_role=False))
