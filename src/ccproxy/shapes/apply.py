"""Stamp a shaped envelope onto the outgoing request, keeping the credential and host ccproxy chose."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode


@dataclass
class Stamped:
    from_shape: list[str] = field(default_factory=list)
    preserved: list[str] = field(default_factory=list)
    query_added: list[str] = field(default_factory=list)


def ordered(fields: list[tuple[str, str]], order: Sequence[str]) -> list[tuple[str, str]]:
    """Headers in the captured client's order; names it never sent go last, in their own order."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(fields, key=lambda kv: rank.get(kv[0].lower(), len(rank)))


def merge_query(path: str, shape_query: str) -> tuple[str, list[str]]:
    """The path plus each shape query parameter it lacks (e.g. `beta=true`); its own stay untouched."""
    if not shape_query:
        return path, []
    own = {k for k, _ in parse_qsl(path.partition("?")[2], keep_blank_values=True)}
    extra = [(k, v) for k, v in parse_qsl(shape_query, keep_blank_values=True) if k not in own]
    if not extra:
        return path, []
    joiner = "&" if "?" in path else "?"
    if path.endswith(("?", "&")):
        joiner = ""
    return path + joiner + urlencode(extra), [k for k, _ in extra]


def stamp(request: Any, headers: list[tuple[str, str]], body: bytes, shape_query: str,
          preserve: Sequence[str], order: Sequence[str]) -> Stamped:
    """Replace the request's headers with `headers` except `preserve`d ones, merge the query, set the body.

    `request` is a mitmproxy `http.Request`; content-length follows the new body.
    """
    from mitmproxy import http

    keep = {p.lower() for p in preserve}
    kept = [(k, v) for k, v in request.headers.items(multi=True) if k.lower() in keep]
    from_shape = [(k, v) for k, v in headers if k.lower() not in keep and k.lower() != "content-length"]
    request.headers = http.Headers([(k.encode(), v.encode()) for k, v in from_shape + kept])
    request.path, added = merge_query(request.path, shape_query)
    request.content = body  # sets content-length, at the end: the reorder below puts it in the client's place
    request.headers = http.Headers(
        [(k.encode(), v.encode()) for k, v in ordered(list(request.headers.items(multi=True)), order)]
    )
    return Stamped(
        from_shape=list(dict.fromkeys(k.lower() for k, _ in from_shape)),
        preserved=list(dict.fromkeys(k.lower() for k, _ in kept)),
        query_added=added,
    )
