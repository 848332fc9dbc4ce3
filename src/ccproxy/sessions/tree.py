"""Flows as an agent session: sessions -> conversations -> turns, subagents nested under the turn that spawned them.

A *session* is the client's own id (`.ccproxy.session_id`, else a session header). Within it a
*conversation* is the run of requests that resend one history (same first user message, see
`flows.conversation`); a turn *continues* the turn whose messages it extends, *retries* one it
repeats, or *forks* from an older one. A *subagent* is a conversation that starts while a turn of
another conversation of the session has a tool call pending (its tool result not yet sent), e.g.
Claude Code's Task/Agent tool: it is nested under that turn. Pure: works on each flow's `Facts`
(`flows.facts`, computed when the flow was stored), never on bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccproxy.store.facts import NO_SESSION, SESSION_HEADERS, Facts, ToolUse
from ccproxy.store.msgfacts import id_hash

__all__ = ["AGENT_TOOLS", "NO_SESSION", "SESSION_HEADERS", "Conversation", "Session", "Turn", "build_tree", "group",
           "walk"]

#: Tool names that start a subagent in the agent CLIs ccproxy knows.
AGENT_TOOLS = frozenset({"Task", "Agent", "dispatch_agent", "spawn_agent", "subagent"})
USAGE_KEYS = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_input_tokens",
              "cache_write": "cache_creation_input_tokens"}


@dataclass
class Turn:
    """One request of a conversation with what the tree shows about it."""

    facts: Facts
    index: int = 0
    kind: str = "start"
    extends: int | None = None
    children: list[Conversation] = field(default_factory=list)
    _usage: dict[str, int] | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.facts.id

    @property
    def started(self) -> float:
        return self.facts.started

    @property
    def ended(self) -> float:
        return self.facts.ended

    @property
    def tool_uses(self) -> list[ToolUse]:
        return self.facts.tool_uses

    def usage(self) -> dict[str, int]:
        """The four token counts (a fresh dict: callers may change it); totals and cache rows ask many times."""
        if self._usage is None:
            raw = self.facts.usage or {}
            self._usage = {k: int(raw.get(v) or 0) for k, v in USAGE_KEYS.items()}
        return dict(self._usage)

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        return {
            "index": self.index, "flow_id": f.id, "started": f.started, "model": f.model,
            "status": f.status, "kind": self.kind, "extends": self.extends,
            "messages": f.messages, "usage": self.usage(), "duration_ms": f.duration_ms,
            "ttfb_ms": f.ttfb_ms, "error": f.error, "stop_reason": f.stop_reason,
            "streamed": f.streamed, "tool_uses": [t.name for t in f.tool_uses],
            "children": [c.to_json() for c in self.children],
        }


@dataclass
class Conversation:
    id: str
    session: str
    turns: list[Turn] = field(default_factory=list)
    parent: dict[str, Any] | None = None  # the spawning turn: flow_id, tool, tool_use_id

    @property
    def title(self) -> str:
        return self.turns[0].facts.title

    def totals(self, nested: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"turns": 0, "errors": 0, "latency_ms": 0.0, **dict.fromkeys(USAGE_KEYS, 0)}
        for turn in self.turns:
            out["turns"] += 1
            out["errors"] += 1 if turn.facts.error else 0
            out["latency_ms"] += float(turn.facts.duration_ms or 0)
            for key, value in turn.usage().items():
                out[key] += value
            if nested:
                for child in turn.children:
                    for key, value in child.totals(nested=True).items():
                        out[key] += value
        out["latency_ms"] = round(out["latency_ms"], 3)
        return out

    def to_json(self) -> dict[str, Any]:
        models = list(dict.fromkeys(str(t.facts.model) for t in self.turns if t.facts.model))
        ttfb = [float(t.facts.ttfb_ms) for t in self.turns if t.facts.ttfb_ms is not None]
        return {
            "id": self.id, "session_id": self.session, "title": self.title, "subagent": self.parent,
            "model": models[-1] if models else None, "models": models, "first": self.turns[0].started,
            "last": self.turns[-1].started, "totals": self.totals(), "totals_with_subagents": self.totals(True),
            "ttfb_ms": {"first": ttfb[0] if ttfb else None, "max": max(ttfb) if ttfb else None},
            "turns": [t.to_json() for t in self.turns],
        }


def _link(conv: Conversation, turn: Turn, seen: dict[bytes, Turn]) -> None:
    """Number the turn and say which earlier turn of the conversation it continues, retries or forks from.

    `seen` maps each earlier turn's whole message list (as its last prefix hash) to the latest turn
    that sent it; the search walks back from the turn's end and stops at the first hit, so a turn
    that extends the one before is linked in a step or two, not in time linear in the conversation."""
    facts = turn.facts
    n = facts.messages
    turn.index = len(conv.turns)
    whole = facts.prefix(n - 1) if n else b"empty"
    if whole in seen:
        turn.kind, turn.extends = "retry", seen[whole].index
    else:
        prev = next((seen[h] for k in range(n - 2, -1, -1) if (h := facts.prefix(k)) in seen), None)
        if prev is None:
            turn.kind = "start" if not conv.turns else "restart"
        else:
            turn.extends = prev.index
            turn.kind = "continue" if prev is conv.turns[-1] else "fork"
    seen[whole] = turn


def _answered(conv: Conversation, until: float) -> set[bytes]:
    """Tool calls of `conv` (their id hashes) whose results its turns sent up to `until`."""
    out: set[bytes] = set()
    for turn in conv.turns:
        if turn.started <= until:
            out |= turn.facts.results()
    return out


def _spawner(conv: Conversation, candidates: Sequence[Conversation]) -> tuple[Turn, ToolUse] | None:
    """The turn of another conversation whose tool call was pending when `conv` started."""
    start = conv.turns[0]
    text_key = start.facts.first_key
    best: tuple[int, Turn, ToolUse] | None = None
    for other in candidates:
        answered: set[bytes] | None = None
        for turn in other.turns:
            if turn.ended > start.started or not turn.tool_uses:
                continue
            answered = _answered(other, start.started) if answered is None else answered
            for use in turn.tool_uses:
                if use.id is not None and id_hash(use.id) in answered:
                    continue
                score = 2 if use.prompt_key and use.prompt_key == text_key else 1 if use.name in AGENT_TOOLS else 0
                if score and (best is None or (score, turn.started) >= (best[0], best[1].started)):
                    best = (score, turn, use)
    return (best[1], best[2]) if best else None


@dataclass
class Session:
    id: str
    conversations: list[Conversation]  # every conversation, by first turn
    top: list[Conversation]  # those no other conversation spawned

    def to_json(self) -> dict[str, Any]:
        totals: dict[str, Any] = {}
        for conv in self.top:
            for key, value in conv.totals(nested=True).items():
                totals[key] = round(totals.get(key, 0) + value, 3)
        return {"session_id": self.id, "first": self.conversations[0].turns[0].started,
                "last": max(c.turns[-1].started for c in self.conversations), "totals": totals,
                "conversations": [c.to_json() for c in self.top]}


def group(facts: Sequence[Facts]) -> list[Session]:
    """Sessions (oldest activity first) with their conversations linked turn by turn and subagents nested."""
    turns = sorted((Turn(f) for f in facts), key=lambda t: (t.started, t.id))
    by_session: dict[str, dict[str, Conversation]] = {}
    seen: dict[tuple[str, str], dict[bytes, Turn]] = {}
    for turn in turns:
        session, cid = turn.facts.session, turn.facts.conversation
        convs = by_session.setdefault(session, {})
        conv = convs.setdefault(cid, Conversation(cid, session))
        _link(conv, turn, seen.setdefault((session, cid), {}))
        conv.turns.append(turn)
    out = []
    for session, convs in by_session.items():
        ordered = sorted(convs.values(), key=lambda c: c.turns[0].started)
        top: list[Conversation] = []
        for i, conv in enumerate(ordered):
            found = _spawner(conv, ordered[:i])
            if found is None:
                top.append(conv)
                continue
            parent, use = found
            conv.parent = {"flow_id": parent.id, "conversation": parent.facts.conversation, "turn": parent.index,
                           "tool": use.name, "tool_use_id": use.id}
            parent.children.append(conv)
        out.append(Session(session, ordered, top))
    return sorted(out, key=lambda s: max(c.turns[-1].started for c in s.conversations))


def build_tree(facts: Sequence[Facts]) -> list[dict[str, Any]]:
    """The JSON tree: sessions -> top-level conversations -> turns -> subagent conversations."""
    return [s.to_json() for s in group(facts)]


def walk(tree: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every conversation of a tree, depth first (subagents right after the turn that spawned them)."""
    out: list[dict[str, Any]] = []

    def visit(conv: dict[str, Any]) -> None:
        out.append(conv)
        for turn in conv["turns"]:
            for child in turn["children"]:
                visit(child)

    for session in tree:
        for conv in session["conversations"]:
            visit(conv)
    return out
