"""Dotted paths into a JSON body: `metadata.user_id`, `system.*.cache_control`, `system.-1`.

A segment is a dict key, a list index (negative counts from the end) or `*` (every item of a list,
every value of a dict). Missing steps are skipped, never created, except by `assign` on the last
step of an existing container: shape hooks must not invent structure the envelope does not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

WILDCARD = "*"


def split(path: str) -> list[str]:
    return [p for p in path.split(".") if p != ""]


def _index(container: list[Any], segment: str) -> int | None:
    try:
        i = int(segment)
    except ValueError:
        return None
    if -len(container) <= i < len(container):
        return i % len(container)
    return None


def _children(node: Any, segment: str) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs one segment below `node`."""
    if isinstance(node, dict):
        keys = list(node) if segment == WILDCARD else ([segment] if segment in node else [])
        for k in keys:
            yield node, k
    elif isinstance(node, list):
        if segment == WILDCARD:
            for i in range(len(node)):
                yield node, i
        else:
            index = _index(node, segment)
            if index is not None:
                yield node, index


def locate(doc: Any, path: str) -> list[tuple[Any, Any]]:
    """Every (container, key) the path reaches, in document order."""
    parts = split(path)
    if not parts:
        return []
    nodes: list[Any] = [doc]
    for segment in parts[:-1]:
        nodes = [c[k] for n in nodes for c, k in _children(n, segment)]
    return [hit for n in nodes for hit in _children(n, parts[-1])]


def get(doc: Any, path: str) -> list[Any]:
    """The values at `path` (several with a wildcard, none when it leads nowhere)."""
    return [c[k] for c, k in locate(doc, path)]


def has(doc: Any, path: str) -> bool:
    return bool(locate(doc, path))


def delete(doc: Any, path: str) -> int:
    """Remove every value at `path`; returns how many went. List items go from the back so indices hold."""
    hits = locate(doc, path)
    for container, key in sorted(hits, key=lambda h: h[1] if isinstance(h[1], int) else 0, reverse=True):
        del container[key]
    return len(hits)


def assign(doc: Any, path: str, value: Any) -> int:
    """Set `value` at `path`; the parent must exist (a dict gets the key, a list item is replaced)."""
    parts = split(path)
    if not parts:
        return 0
    parents = [doc] if len(parts) == 1 else get(doc, ".".join(parts[:-1]))
    count = 0
    for parent in parents:
        if isinstance(parent, dict) and parts[-1] != WILDCARD:
            parent[parts[-1]] = value
            count += 1
        else:
            for container, key in _children(parent, parts[-1]):
                container[key] = value
                count += 1
    return count


def pop(doc: Any, path: str) -> tuple[bool, Any]:
    """Remove and return the one value at a wildcard-free path: (found, value)."""
    hits = locate(doc, path)
    if not hits:
        return False, None
    container, key = hits[0]
    return True, container.pop(key)


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set a wildcard-free path, creating intermediate dicts (content fields may be nested)."""
    parts = split(path)
    node: Any = doc
    for segment in parts[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(segment, {})
    if isinstance(node, dict) and parts:
        node[parts[-1]] = value
