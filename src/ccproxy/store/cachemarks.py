"""Where a request's prompt cache breakpoints are and how long they live: facts the writer records once
per flow (`store/msgfacts.py`), and that cache forensics (`sessions/cache.py`) reads back."""

from __future__ import annotations

import json
from typing import Any

TTL_DEFAULT = 300.0
TTL_LONG = 3600.0
#: Prompt sections in the order a provider's prefix cache sees them, per wire format.
CACHE_ORDER = ("tools", "system", "instructions", "systemInstruction", "messages", "input", "contents")


def breakpoints(body: Any) -> list[str]:
    """The leaf paths a `cache_control` breakpoint ends at, in cache order (the marks of `leaves`, without
    rendering every leaf's text: the writer runs this on every request of a long session)."""
    if not isinstance(body, dict):
        return []
    out: list[str] = []
    for key in CACHE_ORDER:
        if key in body:
            marks_of(key, body[key], key == "tools", out)
    return out


def marks_of(path: str, value: Any, whole: bool, out: list[str], forced: bool = False) -> None:
    """Append the paths `leaves` marks under `value`; `forced`: every leaf is (it ends a marked object)."""
    if whole and isinstance(value, list):
        for i, tool in enumerate(value):
            if forced or (isinstance(tool, dict) and "cache_control" in tool):
                name = tool.get("name") or (tool.get("function") or {}).get("name") if isinstance(tool, dict) else None
                out.append(f'{path}[{i}] (tool "{name}")' if name else f"{path}[{i}]")
        return
    if isinstance(value, dict):
        mark = "cache_control" in value
        items = [(k, v) for k, v in value.items() if k != "cache_control"]
        for n, (k, v) in enumerate(items):
            marks_of(f"{path}.{k}", v, False, out, forced or (mark and n == len(items) - 1))
        if not items and mark:
            out.append(path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            marks_of(f"{path}[{i}]", item, False, out, forced)
        return
    if forced:
        out.append(path)


def ttl_of(body: Any) -> float:
    """The cache lifetime the request asked for: 1 h when any breakpoint says `ttl: 1h`, else 5 min."""
    text = json.dumps(body)
    return TTL_LONG if '"ttl": "1h"' in text or '"ttl":"1h"' in text else TTL_DEFAULT
