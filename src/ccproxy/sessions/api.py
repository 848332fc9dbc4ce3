"""The set read as agent sessions: the pure cores of `ccproxy flows cache|lint|turndiff`.

Each function works on the flows' `Facts` (`flows.facts`, computed when each flow was stored);
request bodies are read through `bodies` only where bytes are the answer: a turn diff, or locating
the drift behind a cache shortfall. `FlowLibrary` (`cache`, `lint`, `turn_diff`) reads the set and
calls them; the viewer's data blob and the tests call them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ccproxy.sessions.cache import Bodies, explain_turns
from ccproxy.sessions.tree import Conversation, Turn, group
from ccproxy.sessions.turndiff import structural_diff, summarize
from ccproxy.store.facts import Facts, lint_flow

__all__ = ["against", "cache_of", "lint_flow", "lint_of", "turn_diff"]


def cache_of(facts: Sequence[Facts], bodies: Bodies, flow_id: str | None = None) -> list[dict[str, Any]]:
    """Per conversation: per turn cache read/write and, on a shortfall, the cause; `flow_id` keeps its conversation."""
    out = []
    for session in group(facts):
        for conv in session.conversations:
            if flow_id and not any(t.id == flow_id for t in conv.turns):
                continue
            out.append({"session_id": session.id, "conversation": conv.id, "title": conv.title,
                        "turns": explain_turns(conv.turns, bodies)})
    return out


def lint_of(facts: Sequence[Facts]) -> list[dict[str, Any]]:
    """The stream lint verdict of every streamed flow, as the writer computed it."""
    return [f.lint for f in facts if f.lint is not None]


def against(conv: Conversation, i: int) -> Turn | None:
    """The turn the `i`th turn of `conv` is diffed against: the one it extends, else the one before."""
    if i == 0:
        return None
    turn = conv.turns[i]
    return conv.turns[turn.extends] if turn.extends is not None else conv.turns[i - 1]


def diff_header(conv: Conversation, i: int) -> dict[str, Any] | None:
    """Which turn the diff of the `i`th turn is against, without reading a body."""
    prev = against(conv, i)
    if prev is None:
        return None
    return {"against": prev.id, "turn": conv.turns[i].index, "against_turn": prev.index}


def turn_diff(conv: Conversation, i: int, bodies: Bodies) -> dict[str, Any] | None:
    """The structural diff of the `i`th turn's request against the turn it continues (or the one before)."""
    head = diff_header(conv, i)
    if head is None:
        return None
    entries = structural_diff(bodies(head["against"]), bodies(conv.turns[i].id))
    return {**head, "counts": summarize(entries), "entries": entries}
