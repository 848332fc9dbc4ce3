"""The set read as agent sessions: the pure cores of `ccproxy flows cache|lint|turndiff`.

Each function works on `StoredFlow`s already resolved: `FlowLibrary` (`cache`, `lint`, `turn_diff`)
reads the set and calls them; the viewer's data blob and the tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ccproxy.sessions.turndiff import structural_diff, summarize
from ccproxy.store.lint import lint_events, summary
from ccproxy.store.stored_flow import StoredFlow
from tests.flows.oracle.cache import explain_turns
from tests.flows.oracle.session import Conversation, Memo, group, memoized


def cache_of(flows: Sequence[StoredFlow], flow_id: str | None = None) -> list[dict[str, Any]]:
    """Per conversation: per turn cache read/write and, on a shortfall, the cause; `flow_id` keeps its conversation."""
    out = []
    for session in group(flows):
        for conv in session.conversations:
            if flow_id and not any(t.flow.id == flow_id for t in conv.turns):
                continue
            out.append({"session_id": session.id, "conversation": conv.id, "title": conv.to_json()["title"],
                        "turns": explain_turns(conv.turns)})
    return out


def lint_flow(flow: StoredFlow) -> dict[str, Any] | None:
    """Both sides of one flow's stream checked against their grammars; None when nothing was streamed."""
    up, client = flow.events("upstream"), flow.events("client")
    if not up and not client:
        return None
    up_lint = lint_events(up) if up else None
    client_lint = lint_events(client) if client else None
    return {
        "flow_id": flow.id,
        "transform": bool((flow.ccproxy.get("transform") or {}).get("from_format")
                          and (flow.ccproxy.get("transform") or {}).get("from_format")
                          != (flow.ccproxy.get("transform") or {}).get("to_format")),
        "upstream": up_lint.to_json() if up_lint else None,
        "client": client_lint.to_json() if client_lint else None,
        "valid": all(x.valid for x in (up_lint, client_lint) if x is not None),
        "summary": summary(up_lint, client_lint),
    }


def lint_of(flows: Sequence[StoredFlow]) -> list[dict[str, Any]]:
    return [r for r in (lint_flow(f) for f in flows) if r is not None]


def turn_diffs(conv: Conversation, memo: Memo | None = None) -> dict[str, dict[str, Any]]:
    """flow id -> structural diff of that turn's request against the turn it continues (or the one before)."""
    out: dict[str, dict[str, Any]] = {}
    for i, turn in enumerate(conv.turns):
        if i == 0:
            continue
        prev = conv.turns[turn.extends] if turn.extends is not None else conv.turns[i - 1]
        entries = memoized(memo, "diff", [prev.flow, turn.flow], partial(structural_diff, prev.body, turn.body))
        out[turn.flow.id] = {"against": prev.flow.id, "turn": turn.index, "against_turn": prev.index,
                             "counts": summarize(entries), "entries": entries}
    return out
