"""A request body read the way `facts_of` needs it: every top-level member parsed except the messages,
which are only located (byte spans) and parsed where they are new.

Why: an agent re-sends its whole conversation every turn, so parsing each request whole costs the
writer O(session) per flow (tens of ms per MB). The bytes of a conversation's next request repeat the
previous request's up to the newest message or two; `scan` is told where the previous request's
messages started and ended within the bytes both share (`known`) and steps over them without parsing,
so a flow costs about the size of what is new in it. The result is what `json.loads` would give
(the same strictness; a body it would reject yields None and the caller falls back to it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: The members that may hold the message list: the first of them that is a list is the conversation.
MESSAGE_KEYS = ("messages", "input", "contents")

_WS = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# Latin-1 keeps one character per byte, so indices are byte offsets; values are then parsed from
# their UTF-8 bytes, exactly as json.loads(body) would parse them.
_DECODER = json.JSONDecoder()
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]

Span = tuple[int, int]


class _Stop(Exception):
    """Not a JSON object this scanner follows: the caller parses the body whole."""


@dataclass
class Scanned:
    raw: bytes
    members: dict[str, Any]  # every member, the message lists as None
    lists: dict[str, list[Span]] = field(default_factory=dict)  # message-list member -> element spans
    parsed: dict[tuple[str, int], Any] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        """The member holding the messages: the first of `MESSAGE_KEYS` that is a list."""
        return next((k for k in MESSAGE_KEYS if k in self.lists), None)

    def element(self, key: str, i: int) -> Any:
        """Element `i` of the message list `key`, parsed on first use."""
        if (key, i) not in self.parsed:
            start, end = self.lists[key][i]
            self.parsed[(key, i)] = json.loads(self.raw[start:end])
        return self.parsed[(key, i)]

    def items(self, key: str) -> Iterator[Any]:
        if key in self.lists:
            yield from (self.element(key, i) for i in range(len(self.lists[key])))
        elif isinstance(self.members.get(key), list):
            yield from self.members[key]

    def body(self) -> dict[str, Any]:
        """The body with every message list parsed (what `json.loads` gives): for the rare caller that needs it."""
        return {k: (list(self.items(k)) if k in self.lists else v) for k, v in self.members.items()}


def scan(raw: bytes, known: dict[int, int] | None = None) -> Scanned | None:
    """The body's members and message spans; `known` maps a message's start to its end where an earlier
    body had the same bytes up to that end. None: not a JSON object (or not one json.loads accepts)."""
    if raw.lstrip()[:1] != b"{":
        return None
    text = raw.decode("latin-1")
    out = Scanned(raw, {})
    try:
        end = _object(text, _skip(text, 0), out, known or {})
        if _skip(text, end) != len(text):
            return None
    except (_Stop, ValueError, IndexError, RecursionError):
        return None
    return out


def _skip(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()  # type: ignore[union-attr]


def _object(text: str, idx: int, out: Scanned, known: dict[int, int]) -> int:
    raw = out.raw
    idx = _skip(text, idx + 1)
    if text[idx] == "}":
        return idx + 1
    while True:
        if text[idx] != '"':
            raise _Stop
        _, key_end = _scanstring(text, idx + 1, True)
        key = json.loads(raw[idx:key_end])
        idx = _skip(text, key_end)
        if text[idx] != ":":
            raise _Stop
        idx = _skip(text, idx + 1)
        if out.lists.pop(key, None) is not None:  # a repeated member: the last one counts, as in json.loads
            out.parsed = {k: v for k, v in out.parsed.items() if k[0] != key}
        if text[idx] == "[" and key in MESSAGE_KEYS:
            out.members[key] = None
            spans: list[Span] = []
            out.lists[key] = spans
            idx = _array(text, idx, spans, known)
            for i, (start, end) in enumerate(spans):
                if start not in known:
                    out.parsed[(key, i)] = json.loads(raw[start:end])  # new: parsed (and checked) now
        else:
            end = _DECODER.raw_decode(text, idx)[1]
            out.members[key] = json.loads(raw[idx:end])
            idx = end
        idx = _skip(text, idx)
        if text[idx] == "}":
            return idx + 1
        if text[idx] != ",":
            raise _Stop
        idx = _skip(text, idx + 1)


def _array(text: str, idx: int, spans: list[Span], known: dict[int, int]) -> int:
    idx = _skip(text, idx + 1)
    if text[idx] == "]":
        return idx + 1
    while True:
        end = known.get(idx)
        if end is None:
            end = _DECODER.raw_decode(text, idx)[1]
        spans.append((idx, end))
        sep = _SEPARATOR.match(text, end)
        if sep is None:
            raise _Stop
        if sep.group(1) == "]":
            return sep.start(1) + 1
        idx = sep.end()
