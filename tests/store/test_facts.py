"""Session views over per-flow facts agree with the body-reading views they replace.

The oracle is the body-reading code as it was on main (`tests/flows/oracle`), run over the same
flows: random agent sessions with continued turns, retries, forks, restarts, subagents spawned by
Task calls (by prompt or by tool name), moving cache_control marks, model changes, TTL gaps,
drifting system prompts and streamed answers. The facts go through the store (written by `put`,
read back by `facts`), as every command reads them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.sessions.api import cache_of, lint_of, turn_diff
from ccproxy.sessions.tree import build_tree, group
from ccproxy.store.db import FlowStore
from ccproxy.store.facts import FACTS_VERSION, facts_of
from ccproxy.store.record import FlowRecord
from ccproxy.store.stored_flow import StoredFlow
from tests.flows.oracle import session as old_session
from tests.flows.oracle import sessions_api as old_api
from tests.sessions.session import answer_sse
from tests.store.factory import bodies, make_record

SESSIONS = ["s-1", "s-2"]
OPENERS = ["fix the port bug", "write tests", "  fix   the port\nbug ", "explain the cache"]
MODELS = ["claude-sonnet-4-5", "claude-opus-4"]


def _block(text: str, mark: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if mark:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _response(calls: list[tuple[str, str, str | None]], usage: dict[str, int]) -> bytes:
    content: list[dict[str, Any]] = [{"type": "text", "text": "working"}]
    for cid, name, prompt in calls:
        content.append({"type": "tool_use", "id": cid, "name": name, "input": {"prompt": prompt} if prompt else {}})
    return json.dumps({"type": "message", "role": "assistant", "content": content,
                       "stop_reason": "tool_use" if calls else "end_turn", "usage": usage}).encode()


@st.composite
def sessions(draw: st.DrawFn) -> list[FlowRecord]:
    """A run of flows: each step continues, retries or forks a turn, or opens a (sub)conversation."""
    import random

    rng = random.Random(draw(st.integers(0, 2**32)))
    steps = draw(st.integers(1, 18))
    ts = 1_700_000_000.0
    convs: list[dict[str, Any]] = []  # {session, turns: [messages], pending: [(id, name, prompt)]}
    pending: list[tuple[str, str, str | None]] = []
    out: list[FlowRecord] = []
    for n in range(steps):
        ts += rng.choice([1.0, 5.0, 30.0, 400.0])
        action = rng.choice(["new", "continue", "continue", "continue", "retry", "fork"]) if convs else "new"
        if action == "new":
            spawn = pending and rng.random() < 0.6
            opener = (pending[-1][2] or rng.choice(OPENERS)) if spawn else rng.choice(OPENERS)
            content: Any = opener if rng.random() < 0.4 else [_block(opener, rng.random() < 0.5)]
            conv = {"session": rng.choice(SESSIONS), "turns": [], "system": "You are an agent."}
            convs.append(conv)
            messages = [{"role": "user", "content": content}]
        else:
            conv = rng.choice(convs)
            if not conv["turns"]:
                continue
            if action == "retry":
                messages = list(rng.choice(conv["turns"]))
            else:
                base = conv["turns"][-1] if action == "continue" else rng.choice(conv["turns"])
                results = [{"type": "tool_result", "tool_use_id": c[0], "content": "done"}
                           for c in pending if rng.random() < 0.5]
                pending = [c for c in pending if c[0] not in {r["tool_use_id"] for r in results}]
                strip = [{**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
                         if isinstance(m["content"], list) else m for m in base]
                messages = [*strip, {"role": "assistant", "content": [_block(f"answer {n}", False)]},
                            {"role": "user", "content": [*results, _block(f"next {n}", True)]}]
            if rng.random() < 0.15:
                conv["system"] = conv["system"] + " Be brief."
        conv["turns"].append(messages)
        calls: list[tuple[str, str, str | None]] = []
        if rng.random() < 0.5:
            name = rng.choice(["Task", "Agent", "Bash", "Read"])
            calls.append((f"toolu_{n}", name, rng.choice([*OPENERS, None]) if name in ("Task", "Bash") else None))
            pending.append(calls[-1])
        usage = {"input_tokens": rng.randint(0, 50), "output_tokens": rng.randint(1, 50),
                 "cache_read_input_tokens": rng.choice([0, 0, 100, 1800, 5000]),
                 "cache_creation_input_tokens": rng.choice([0, 150, 2000])}
        body = {"model": rng.choice(MODELS) if rng.random() < 0.2 else MODELS[0],
                "system": [{"type": "text", "text": conv["system"], "cache_control": {"type": "ephemeral"}}],
                "tools": [{"name": "Task", "description": "spawn"}], "messages": messages}
        if rng.random() < 0.1:
            body["system"][0]["cache_control"]["ttl"] = "1h"
        events = None
        if rng.random() < 0.2:
            events = answer_sse_events(rng, n)
        out.append(make_record(
            fid=f"{n:08x}-0000-4000-8000-000000000000", ts=ts, body=body,
            client_headers=[("content-type", "application/json"), ("x-claude-code-session-id", conv["session"])],
            response_body=_response(calls, usage), upstream_events=events,
        ))
    return out


def answer_sse_events(rng: Any, turn: int) -> Any:
    from ccproxy.store.sse import SSEParser

    raw, _ = answer_sse(rng, turn)
    return SSEParser().feed(raw, now=1000.0)


def _through_store(records: list[FlowRecord]) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp, FlowStore(Path(tmp) / "flows.sqlite3", create=True) as store:
        store.put(records)
        return store.facts(store.ids())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(sessions())
def test_facts_give_what_the_bodies_gave(records: list[FlowRecord]) -> None:
    facts = _through_store(records)
    flows = [StoredFlow(r.doc, r.parts) for r in records]
    assert build_tree(facts) == old_session.build_tree(flows)
    assert cache_of(facts, bodies(records)) == old_api.cache_of(flows)
    assert lint_of(facts) == old_api.lint_of(flows)
    new_convs = [c for s in group(facts) for c in s.conversations]
    old_convs = [c for s in old_session.group(flows) for c in s.conversations]
    for new, old in zip(new_convs, old_convs, strict=True):
        expected = old_api.turn_diffs(old)
        for i, turn in enumerate(new.turns):
            assert turn_diff(new, i, bodies(records)) == expected.get(turn.id)


def test_facts_round_trip_and_carry_their_version() -> None:
    from tests.sessions.agent_session import records

    recs = records()
    stored = _through_store(recs)
    assert {f.id: f for f in stored} == {r.id: facts_of(r.doc, r.parts) for r in recs}
    assert {f.version for f in stored} == {FACTS_VERSION}
