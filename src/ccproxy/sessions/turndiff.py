"""Structural diff of one turn's request against the turn it continues: what was added, removed, changed.

Unlike `flows diff` (a text diff of pretty-printed bodies), this names JSON paths, so "the agent
appended messages[12..13] and the system prompt's second block changed" reads as three entries,
not a wall of +/- lines. Lists compare index by index (a conversation grows at its tail).
"""

from __future__ import annotations

import json
from typing import Any

PREVIEW = 160


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def structural_diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Entries `{op: added|removed|changed, path, before?, after?}` turning `before` into `after`."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in before:
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append({"op": "removed", "path": sub, "before": _preview(before[key])})
            else:
                out += structural_diff(before[key], after[key], sub)
        for key in after:
            if key not in before:
                out.append({"op": "added", "path": f"{path}.{key}" if path else str(key), "after": _preview(after[key])})
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        for i in range(max(len(before), len(after))):
            sub = f"{path}[{i}]"
            if i >= len(after):
                out.append({"op": "removed", "path": sub, "before": _preview(before[i])})
            elif i >= len(before):
                out.append({"op": "added", "path": sub, "after": _preview(after[i])})
            else:
                out += structural_diff(before[i], after[i], sub)
        return out
    if before != after:
        return [{"op": "changed", "path": path or "(body)", "before": _preview(before), "after": _preview(after)}]
    return []


def summarize(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"added": 0, "removed": 0, "changed": 0}
    for e in entries:
        counts[e["op"]] += 1
    return counts


def diff_text(title: str, entries: list[dict[str, Any]]) -> str:
    if not entries:
        return f"{title}: no change\n"
    lines = [f"{title}: " + ", ".join(f"{n} {op}" for op, n in summarize(entries).items() if n)]
    for e in entries:
        mark = {"added": "+", "removed": "-", "changed": "~"}[e["op"]]
        detail = e.get("after") if e["op"] == "added" else e.get("before") if e["op"] == "removed" else (
            f"{e['before']}  ->  {e['after']}")
        lines.append(f"  {mark} {e['path']}: {detail}")
    return "\n".join(lines) + "\n"
