"""Costs summed over a set: per model, session or day (`ccproxy flows cost`), and onto the session tree.

Pure: works on flow JSON docs (and `StoredFlow`s for the tree); each flow is priced once by
`sessions.cost.flow_cost`, and every sum says how many flows it could not price instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ccproxy.sessions.cost import Cost, Price, answered_model, flow_cost, total, usd_text
from ccproxy.sessions.tree import build_tree
from ccproxy.store.facts import Facts, session_of, started_of
from ccproxy.store.stored_flow import StoredFlow

BY = ("model", "session", "day", "flow")


def _key_of(by: str) -> Callable[[dict[str, Any]], str]:
    def model(doc: dict[str, Any]) -> str:
        return str(answered_model(doc.get("ccproxy") or {}) or "(no model)")

    def session(doc: dict[str, Any]) -> str:
        return str(session_of(StoredFlow(doc)))

    def day(doc: dict[str, Any]) -> str:
        ts = started_of(StoredFlow(doc))
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d") if ts else "(no date)"

    def flow(doc: dict[str, Any]) -> str:
        return str(doc.get("id"))

    return {"model": model, "session": session, "day": day, "flow": flow}[by]


def spend(docs: Sequence[dict[str, Any]], by: str = "model",
          prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """`{by, total, rows}`: one row per key (flows, tokens, cost), in order of first appearance."""
    key_of = _key_of(by)
    groups: dict[str, list[tuple[dict[str, Any], Cost | None]]] = {}
    for doc in docs:
        groups.setdefault(key_of(doc), []).append((doc, flow_cost(doc, prices)))
    rows = []
    for key, members in groups.items():
        usage: dict[str, int] = {}
        for doc, _ in members:
            for name, value in ((doc.get("ccproxy") or {}).get("usage") or {}).items():
                usage[name] = usage.get(name, 0) + int(value or 0)
        rows.append({"key": key, "flows": len(members), "usage": usage, **total(c for _, c in members)})
    everything = total(c for members in groups.values() for _, c in members)
    return {"by": by, "total": {**everything, "flows": len(docs)}, "rows": rows}


def tree_with_costs(facts: Sequence[Facts], docs: Mapping[str, Mapping[str, Any]],
                    prices: Mapping[str, Price] | None = None) -> list[dict[str, Any]]:
    """`flows tree`'s JSON (from the flows' facts) with a cost on every turn (from its flow JSON, `docs`) and a
    `cost` sum on every conversation (its own turns; `cost_with_subagents` adds its subagents') and session."""
    costs = {f.id: flow_cost(docs[f.id], prices) if f.id in docs else None for f in facts}
    return annotate_tree(build_tree(facts), costs)


def annotate_tree(tree: list[dict[str, Any]], costs: Mapping[str, Cost | dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Write per-turn costs (Cost or its JSON) and their sums into a built tree; returns it."""
    for session in tree:
        session_costs: list[Cost | None] = []
        for conv in session["conversations"]:
            session_costs += _annotate(conv, costs)
        session["cost"] = _sum(session_costs)
    return tree


def _annotate(conv: dict[str, Any], costs: Mapping[str, Cost | dict[str, Any] | None]) -> list[Cost | None]:
    """Costs of the conversation's turns and of its subagents', recursively; writes the sums on the way."""
    own: list[Cost | None] = []
    nested: list[Cost | None] = []
    for turn in conv["turns"]:
        found = costs.get(turn["flow_id"])
        cost = Cost(**found) if isinstance(found, dict) else found
        turn["cost"] = cost.to_json() if cost else None
        own.append(cost)
        for child in turn["children"]:
            nested += _annotate(child, costs)
    conv["cost"] = _sum(own)
    conv["cost_with_subagents"] = _sum(own + nested)
    return own + nested


def _sum(costs: Sequence[Cost | None]) -> dict[str, Any]:
    out = total(costs)
    out["label"] = label(out)
    return out


def label(summed: Mapping[str, Any]) -> str:
    """`$0.1234`, `$0.1234 + 2 unknown`, `unknown`, or `-` when nothing had usage."""
    if not summed["priced"] and not summed["unknown"]:
        return "-"
    if not summed["priced"]:
        return "unknown"
    text = usd_text(summed["usd"])
    return f"{text} + {summed['unknown']} unknown" if summed["unknown"] else text
