"""The machinery of the stream linter: findings, a checker that collects them, and `Grammar`, an
event grammar as a table (which event types each state allows, and the state after each)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flowmeta import SSEEvent


@dataclass
class Finding:
    event: int  # 1-based index of the offending event; 0 = the stream as a whole
    rule: str
    message: str
    severity: str = "error"  # "error" breaks the grammar; "warning" is legal but suspicious


def parse(data: str) -> Any:
    """An event's data as JSON; None when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return None


class Checker:
    """Collects the findings of one stream."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def bad(self, n: int, rule: str, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(n, rule, message, severity))

    def object(self, n: int, ev: SSEEvent, typed: bool = False) -> dict[str, Any] | None:
        """The event's JSON object, or None after a finding; `typed`: the `event:` name must match its `type`."""
        doc = parse(ev.data)
        if not isinstance(doc, dict):
            self.bad(n, "json", f"data is not a JSON object: {ev.data[:60]!r}")
            return None
        if typed and ev.event and ev.event != str(doc.get("type")):
            self.bad(n, "event-name", f"`event: {ev.event}` carries data of type {str(doc.get('type'))!r}")
        return doc


KEEP = ""  # a misplaced event leaves the state as it was


@dataclass(frozen=True)
class Grammar:
    """A stream's event grammar as a table: the event types each state allows and the state after each.

    An event type a state does not list is *misplaced* (its own rule and message, and where the
    stream goes on from) or, when the grammar does not know it at all, unknown. A provider adding an
    event type is one entry in `moves`."""

    first: str  # the type a stream opens with
    moves: dict[str, dict[str, str]]  # state -> {event type: state after it}
    misplaced: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # type -> (rule, message, state)
    anywhere: frozenset[str] = frozenset()  # legal in every state, state kept
    unknown_ok: bool = False  # event types the table does not name pass silently

    def step(self, c: Checker, n: int, state: str, kind: str) -> str:
        if kind in self.anywhere:
            return state
        nxt = self.moves.get(state, {}).get(kind)
        if nxt is not None:
            return nxt
        if kind in self.misplaced:
            rule, message, nxt = self.misplaced[kind]
            c.bad(n, rule, message)
            return nxt or state
        if not self.unknown_ok and not any(kind in m for m in self.moves.values()):
            c.bad(n, "unknown-event", f"unknown event type {kind!r}", "warning")
        return state
