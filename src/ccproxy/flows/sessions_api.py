"""The library behind `ccproxy flows tree|cache|lint|export` and the MCP session tools.

Same set semantics as `flows.api`: all stored flows -> `flows.default_jq_filters` -> each `--jq`.
Each function has a pure core (`*_of(flows)`) over `StoredFlow`s, which the viewer's data blob and
the tests call directly, and a wrapper that reads the set from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import FlowError
from ccproxy.flows import api
from ccproxy.flows.cache import explain_turns
from ccproxy.flows.lint import lint_events, summary
from ccproxy.flows.session import Conversation, Memo, build_tree, group, memoized
from ccproxy.flows.stored import StoredFlow
from ccproxy.flows.turndiff import structural_diff, summarize

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig


def load_set(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[StoredFlow]:
    return api.load(config, config_dir, api.resolve_ids(config, config_dir, jq_filters))


def tree(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Sessions -> conversations -> turns, subagents nested under the turn that spawned them."""
    return build_tree(load_set(config, config_dir, jq_filters))


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


def cache(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = (),
          id_prefix: str | None = None) -> list[dict[str, Any]]:
    flows = load_set(config, config_dir, jq_filters)
    if not flows:
        raise FlowError("no flows in the set; `ccproxy flows list` shows what is stored")
    flow_id = api.find_id(config, config_dir, id_prefix, jq_filters) if id_prefix else None
    return cache_of(flows, flow_id)


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


def lint(config: CCProxyConfig, config_dir: Path, jq_filters: Sequence[str] = ()) -> list[dict[str, Any]]:
    return lint_of(load_set(config, config_dir, jq_filters))


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


def turn_diff(config: CCProxyConfig, config_dir: Path, id_prefix: str,
              jq_filters: Sequence[str] = ()) -> dict[str, Any]:
    """The structural diff of one flow's request against the previous turn of its conversation."""
    flow_id = api.find_id(config, config_dir, id_prefix, jq_filters)
    for session in group(load_set(config, config_dir, jq_filters)):
        for conv in session.conversations:
            if any(t.flow.id == flow_id for t in conv.turns):
                found = turn_diffs(conv).get(flow_id)
                if found is None:
                    raise FlowError(f"flow {flow_id[:8]} is the first turn of its conversation; nothing to diff against")
                return {"flow_id": flow_id, **found}
    raise FlowError(f"flow {flow_id[:8]} is not in the set")
