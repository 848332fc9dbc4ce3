"""The live blob kept as serialised per-session fragments, so a new flow re-serialises only its session.

Why: rebuilding and re-serialising the whole ~1 MB blob after every new flow cost 30-110 ms of the
viewer worker's time per poll. Sessions are independent in the blob: `sessions.tree.group` links
turns, conversations and subagents only within a session, `annotate_tree` sums costs per session,
and cache verdicts pair turns of one conversation. So each session's part (its tree node and its
flows' views) is built by `light_data` over that session's facts alone, serialised once, and reused
while the session's flows (ids and versions) stay the same. Joined, the parts parse to exactly what
a full `light_data` over every shown flow gives (`tests/viewer/test_fragments.py` checks that).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.sessions.cache import Bodies
from ccproxy.sessions.cost import Price
from ccproxy.store.facts import Facts
from ccproxy.viewer.data import Verdicts, light_data

#: A flow as the live blob knows it: its id and the store's version of its row (a replay bumps it).
Key = tuple[str, int]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class Part:
    """One session's share of the blob, serialised."""

    keys: frozenset[Key]
    order: tuple[float, float, str]  # where the session sorts among the others (as `group` sorts them)
    tree: str  # the session's node of `tree`
    flows: str  # its flows' views: the members of the `flows` object, without the braces
    against: dict[str, dict[str, Any]]  # each flow's diff header, for `flow_detail`'s diff


class Fragments:
    """Per-session serialised parts of the light blob, rebuilt only for sessions whose flows changed."""

    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.summaries: dict[Key, dict[str, Any]] = {}  # each flow's summary (its cost priced once)
        self.views: dict[str, tuple[dict[str, Any], str]] = {}  # each flow's view and its serialised member
        self.turns: dict[str, tuple[dict[str, Any], str]] = {}  # each flow's turn of the tree, serialised
        self.rebuilt = 0  # sessions rebuilt by the last `build` (for tests and the bench)

    def build(self, shown: Sequence[tuple[Key, Facts]], docs: Mapping[str, dict[str, Any]], bodies: Bodies,
              verdicts: Verdicts | None = None, prices: Mapping[str, Price] | None = None,
              redacted: bool = True, mitmweb: str | None = None) -> bytes:
        """The blob's bytes; same JSON as `json.dumps(light_data(...))` over every shown flow."""
        by_session: dict[str, list[tuple[Key, Facts]]] = {}
        for key, facts in shown:
            by_session.setdefault(facts.session, []).append((key, facts))
        parts: dict[str, Part] = {}
        self.rebuilt = 0
        for session, members in by_session.items():
            keys = frozenset(k for k, _ in members)
            part = self.parts.get(session)
            if part is None or part.keys != keys:
                memo = {k[0]: self.summaries[k] for k in keys if k in self.summaries}
                part = self._part(keys, [f for _, f in members], docs, bodies, verdicts, prices, memo)
                self.summaries.update({k: memo[k[0]] for k in keys if k[0] in memo})
                self.rebuilt += 1
            parts[session] = part
        self.parts = parts
        shown_keys = {k for k, _ in shown}
        self.summaries = {k: v for k, v in self.summaries.items() if k in shown_keys}
        shown_ids = {k[0] for k in shown_keys}
        self.views = {i: v for i, v in self.views.items() if i in shown_ids}
        self.turns = {i: v for i, v in self.turns.items() if i in shown_ids}
        ordered = sorted(parts.values(), key=lambda p: p.order)
        head = _dumps({"generated": time.time(), "redacted": redacted, "mitmweb": mitmweb})[:-1]
        text = (head + ', "tree": [' + ", ".join(p.tree for p in ordered) + '], "flows": {'
                + ", ".join(p.flows for p in ordered if p.flows) + "}}")
        return text.encode()

    @property
    def against(self) -> dict[str, dict[str, Any]]:
        return {fid: head for part in self.parts.values() for fid, head in part.against.items()}

    def _part(self, keys: frozenset[Key], facts: list[Facts], docs: Mapping[str, dict[str, Any]], bodies: Bodies,
              verdicts: Verdicts | None, prices: Mapping[str, Price] | None,
              summaries: dict[str, dict[str, Any]]) -> Part:
        data = light_data(facts, docs, bodies, verdicts=verdicts, prices=prices, summaries=summaries)
        (node,) = data["tree"]
        first = min((f.started, f.id) for f in facts)  # `group` keeps sessions tied on `last` in this order
        views = data["flows"]
        return Part(keys, (node["last"], *first), self._node(node), ", ".join(self._view(fid, v) for fid, v in views.items()),
                    {fid: v["diff"] for fid, v in views.items() if v["diff"]})

    def _node(self, node: dict[str, Any]) -> str:
        """A session node serialised, each turn's JSON reused while the turn is unchanged (keys reordered)."""
        return self._with(node, "conversations", self._conv)

    def _conv(self, conv: dict[str, Any]) -> str:
        return self._with(conv, "turns", self._turn)

    @staticmethod
    def _with(obj: dict[str, Any], name: str, each: Callable[[dict[str, Any]], str]) -> str:
        rest = _dumps({k: v for k, v in obj.items() if k != name})
        return f'{rest[:-1]}{", " if len(rest) > 2 else ""}"{name}": [{", ".join(each(x) for x in obj[name])}]}}'

    def _turn(self, turn: dict[str, Any]) -> str:
        known = self.turns.get(turn["flow_id"])
        if known is None or known[0] != turn:
            known = self.turns[turn["flow_id"]] = (turn, _dumps(turn))
        return known[1]

    def _view(self, fid: str, view: dict[str, Any]) -> str:
        """`"id": {view}`, serialised again only when the view changed (most of a session's do not)."""
        known = self.views.get(fid)
        if known is None or known[0] != view:
            known = self.views[fid] = (view, f"{_dumps(fid)}: {_dumps(view)}")
        return known[1]
