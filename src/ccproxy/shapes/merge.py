"""Content fields: taken out of a capture to make the envelope, filled from the live request on replay."""

from __future__ import annotations

import copy
from typing import Any

from ccproxy.shapes import paths
from ccproxy.shapes.profile import Profile, Strategy

#: Where a body field of a shaped request came from, as recorded in `.ccproxy.shape.fields`.
FROM_SHAPE = "shape"
FROM_INCOMING = "incoming"
SHAPE_THEN_INCOMING = "shape+incoming"
INCOMING_THEN_SHAPE = "incoming+shape"
DROPPED = "dropped"
ABSENT = "absent"


def shape_part(value: Any, strategy: Strategy) -> Any:
    """The part of the shape's own value a prepend/append strategy keeps: its first N items."""
    if isinstance(value, list) and strategy.limit is not None:
        return value[: strategy.limit]
    return value


def envelope_body(body: dict[str, Any], profile: Profile) -> tuple[dict[str, Any], list[str]]:
    """A captured body without its content: (envelope, names of the content fields removed).

    A field merged with prepend_shape/append_shape keeps the shape's first N items (the preamble
    that belongs to the envelope); every other content field goes.
    """
    env = copy.deepcopy(body)
    removed = []
    for name in profile.content_fields:
        strategy = profile.strategy(name)
        found, value = paths.pop(env, name)
        if not found:
            continue
        if strategy.keeps_shape:
            paths.put(env, name, shape_part(value, strategy))
        else:
            removed.append(name)
    return reorder(env, list(body)), removed


def _as_blocks(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "text", "text": value}] if value else []
    if isinstance(value, list):
        return list(value)
    return [value]


def combine(shape_value: Any, incoming: Any, shape_first: bool) -> Any:
    """Shape and live values one after the other; two strings stay a string, otherwise strings become text blocks."""
    first, second = (shape_value, incoming) if shape_first else (incoming, shape_value)
    if isinstance(first, str) and isinstance(second, str):
        return "\n\n".join(s for s in (first, second) if s)
    if second is None and not isinstance(first, list):
        return first
    if first is None and not isinstance(second, list):
        return second
    return _as_blocks(first) + _as_blocks(second)


def _fill(body: dict[str, Any], name: str, strategy: Strategy, shape_value: tuple[bool, Any],
          incoming: tuple[bool, Any]) -> str:
    has_shape, from_shape = shape_value
    has_live, live = incoming
    if strategy.kind == "drop":
        return DROPPED
    if strategy.kind == "replace" or not has_shape:
        if not has_live:
            return ABSENT
        paths.put(body, name, copy.deepcopy(live))
        return FROM_INCOMING
    part = shape_part(from_shape, strategy)
    if not has_live:
        paths.put(body, name, part)
        return FROM_SHAPE
    shape_first = strategy.kind == "prepend_shape"
    paths.put(body, name, combine(part, copy.deepcopy(live), shape_first))
    return SHAPE_THEN_INCOMING if shape_first else INCOMING_THEN_SHAPE


def inject(envelope: dict[str, Any], incoming: dict[str, Any], profile: Profile,
           key_order: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The envelope with every content field filled from `incoming` by its strategy.

    Two passes, so a field's shape value is read before any field is written: first every content
    field leaves the envelope, then each is filled. Returns (body, where each top-level field came from).
    """
    body = copy.deepcopy(envelope)
    taken = {name: paths.pop(body, name) for name in profile.content_fields}
    sources = {key: FROM_SHAPE for key in body}
    for name in profile.content_fields:
        found, live = (True, paths.get(incoming, name)[0]) if paths.has(incoming, name) else (False, None)
        sources[name] = _fill(body, name, profile.strategy(name), taken[name], (found, live))
    return reorder(body, key_order or []), sources


def reorder(body: dict[str, Any], key_order: list[str]) -> dict[str, Any]:
    """Top-level keys in the captured client's order; keys it never sent keep theirs, after it."""
    rank = {k: i for i, k in enumerate(key_order)}
    ordered = sorted(body, key=lambda k: rank.get(k, len(rank)))
    return {k: body[k] for k in ordered}
