"""Prompt-cache forensics: per turn, what the cache gave and, when it gave less than the turn before set up, why.

A turn is expected to read back what the previous turn of its conversation read plus what it wrote
(the prefix up to the previous breakpoint). When it reads less, the cause is one of: a cold start
(no earlier turn), a model change (caches are per model), the TTL ran out (the gap since the previous
turn is over 5 minutes, or 1 hour for `cache_control: {"ttl": "1h"}`), or prefix drift: the bytes
before the breakpoint changed. Drift is located as the first differing leaf of the prompt in cache
order (tools -> system -> messages), e.g. `system[1].text` at offset 812, and placed relative to
the `cache_control` breakpoints. Pure: works on `Turn`s of `flows.session` (their facts), and reads
the two bodies only to locate drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ccproxy.store.cachemarks import CACHE_ORDER

if TYPE_CHECKING:
    from ccproxy.sessions.tree import Turn

def leaves(body: Any) -> Iterator[tuple[str, str, bool]]:
    """(path, text, has breakpoint) for each leaf of the prompt, in cache order; `cache_control` is left out.

    A tool definition is one leaf (named by the tool), a string is one leaf; any other scalar is
    its JSON text."""
    if not isinstance(body, dict):
        return
    for key in CACHE_ORDER:
        if key in body:
            yield from _walk(key, body[key], key == "tools")


def _walk(path: str, value: Any, whole: bool = False) -> Iterator[tuple[str, str, bool]]:
    if whole and isinstance(value, list):
        for i, tool in enumerate(value):
            name = tool.get("name") or (tool.get("function") or {}).get("name") if isinstance(tool, dict) else None
            mark = isinstance(tool, dict) and "cache_control" in tool
            stripped = {k: v for k, v in tool.items() if k != "cache_control"} if isinstance(tool, dict) else tool
            label = f'{path}[{i}] (tool "{name}")' if name else f"{path}[{i}]"
            yield label, json.dumps(stripped, sort_keys=True, ensure_ascii=False), mark
        return
    if isinstance(value, dict):
        mark = "cache_control" in value
        items = [(k, v) for k, v in value.items() if k != "cache_control"]
        for n, (k, v) in enumerate(items):
            last = n == len(items) - 1
            for leaf_path, text, leaf_mark in _walk(f"{path}.{k}", v):
                yield leaf_path, text, leaf_mark or (mark and last)
        if not items and mark:
            yield path, "{}", True
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(f"{path}[{i}]", item)
        return
    yield path, value if isinstance(value, str) else json.dumps(value), False


def first_divergence(before: Any, after: Any) -> dict[str, Any] | None:
    """Where `after`'s prompt first differs from `before`'s, up to `before`'s last breakpoint.

    None when `after` keeps all of `before`'s cached prefix. Otherwise the leaf path, the character
    offset inside it, a short excerpt of both sides, and which breakpoints lie after the change."""
    old, new = list(leaves(before)), list(leaves(after))
    marks = [i for i, leaf in enumerate(old) if leaf[2]]
    end = (marks[-1] + 1) if marks else len(old)
    for i in range(end):
        if i >= len(new):
            return {"path": old[i][0], "offset": 0, "change": "removed", "before": old[i][1][:80], "after": None,
                    "breakpoints_after": [old[m][0] for m in marks if m >= i]}
        (path, text, _), (new_path, new_text, _) = old[i], new[i]
        if path != new_path or text != new_text:
            offset = next((k for k, (a, b) in enumerate(zip(text, new_text, strict=False)) if a != b),
                          min(len(text), len(new_text)))
            lo = max(0, offset - 20)
            return {"path": path if path == new_path else f"{path} -> {new_path}", "offset": offset,
                    "change": "changed", "before": text[lo:offset + 40], "after": new_text[lo:offset + 40],
                    "breakpoints_after": [old[m][0] for m in marks if m >= i]}
    return None


#: A turn's request body, parsed, by flow id: read only for a turn whose drift must be located.
Bodies = Callable[[str], Any]


def _verdict(turn: Turn, prev: Turn | None, expected: int, bodies: Bodies) -> dict[str, Any]:
    read = turn.usage()["cache_read"]
    if prev is None:
        return {"cause": "cold_start", "detail": "first turn of the conversation: nothing cached yet"}
    model, prev_model = turn.facts.model, prev.facts.model
    if model != prev_model:
        return {"cause": "model_changed", "detail": f"model {prev_model} -> {model}: caches are per model"}
    gap, ttl = turn.started - prev.ended, prev.facts.ttl
    if gap > ttl:
        return {"cause": "ttl_expired", "gap_s": round(gap, 1), "ttl_s": ttl,
                "detail": f"{gap:.0f} s since the previous turn, over the {ttl / 60:.0f} min cache TTL"}
    drift = first_divergence(bodies(prev.id), bodies(turn.id))
    if drift is not None:
        where = f"{drift['path']} at offset {drift['offset']}"
        marks = drift["breakpoints_after"]
        before = ""
        if marks:  # the changed block may itself carry the breakpoint: name the spot once
            before = " (the breakpoint's own block)" if marks[0] == drift["path"] else f", before breakpoint {marks[0]}"
        return {"cause": "prefix_drift", "divergence": drift,
                "detail": f"prefix changed at {where}{before}: everything after it is written anew"}
    return {"cause": "unexplained", "gap_s": round(gap, 1),
            "detail": f"read {read} of {expected} expected tokens with the prefix unchanged and within the TTL "
                      "(provider-side eviction, or a breakpoint below the minimum cacheable length)"}


def explain_turns(turns: Sequence[Turn], bodies: Bodies,
                  memo: dict[tuple[str, str, int], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per turn of one conversation (in order): cache read/write, expected read, and on a shortfall why.

    Everything comes from the turns' facts except where a shortfall within the TTL must be located in
    the prompt: only then are the two requests' bodies read (`bodies`). A long-lived caller (the live
    viewer) passes a `memo` so that a verdict is worked out once per pair of turns."""
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        prev = turns[turn.extends] if turn.extends is not None and turn.extends < i else (turns[i - 1] if i else None)
        usage = turn.usage()
        expected = (prev.usage()["cache_read"] + prev.usage()["cache_write"]) if prev else 0
        row: dict[str, Any] = {
            "turn": turn.index, "flow_id": turn.id, "model": turn.facts.model,
            "input": usage["input"], "cache_read": usage["cache_read"], "cache_write": usage["cache_write"],
            "expected_read": expected, "status": "hit", "breakpoints": list(turn.facts.breakpoints),
        }
        if usage["cache_read"] == 0 and expected == 0:
            # nothing to read yet: the first turn (or the first after uncached ones) writes, or caches nothing
            cached = usage["cache_write"] or row["breakpoints"]
            row["status"] = "first" if cached else "uncached"
            if cached and prev is None:
                row.update(_verdict(turn, prev, expected, bodies))
        elif prev is None or usage["cache_read"] < expected:
            row["status"] = "miss" if usage["cache_read"] == 0 else "partial"
            if memo is None or prev is None:
                row.update(_verdict(turn, prev, expected, bodies))
            else:
                key = (turn.id, prev.id, expected)
                if key not in memo:
                    memo[key] = _verdict(turn, prev, expected, bodies)
                row.update(memo[key])
        out.append(row)
    return out


def explain_text(conv_title: str, rows: Sequence[dict[str, Any]]) -> str:
    lines = [f"conversation: {conv_title}"]
    for r in rows:
        line = (f"  turn {r['turn']:>3} {r['flow_id'][:8]} read {r['cache_read']:>7} write {r['cache_write']:>7} "
                f"(expected read {r['expected_read']}) {r['status']}")
        if r.get("cause"):
            line += f": {r['cause']}: {r['detail']}"
        lines.append(line)
    return "\n".join(lines) + "\n"
