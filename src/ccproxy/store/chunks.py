"""Split a body into the pieces an agent re-sends every turn, and write down how to put it back together.

An agent CLI sends the whole conversation again on every turn, so a store that keeps each request
whole grows with the square of the session. A JSON request body is a few top-level members, some
of them arrays (`messages`, `tools`, `contents`, `input`, ...) whose elements repeat from one turn
to the next. `spans` finds the byte ranges of those elements (and of large string/object members)
in the raw bytes; the store keeps each range once, by hash, and a *recipe* per body: the references
plus the bytes in between, so reading a body back is a concatenation, exact to the byte.

Nothing here trusts the body to be valid JSON, UTF-8 or anything else: the scanner only ever
reports ranges it could parse completely, and whatever it cannot read stays literal.
"""

from __future__ import annotations

import contextlib
import json
import re
import struct
import zlib
from collections.abc import Sequence
from itertools import accumulate

#: Elements shorter than this stay literal: a reference and a blob row cost more than the bytes.
MIN_CHUNK = 32
#: Objects nested this deep are still opened to find arrays (`{"request": {"contents": [...]}}`).
MAX_DEPTH = 3

_WS = re.compile(r"[ \t\n\r]*")
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# Parsing latin-1 text keeps one character per byte, so every index is a byte offset; UTF-8's
# multi-byte sequences are all >= 0x80 and never look like JSON punctuation.
_DECODER = json.JSONDecoder(strict=False)
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]

Span = tuple[int, int]


class _Stop(Exception):
    """The bytes stop being JSON the scanner can follow; the spans found so far stay valid."""


def spans(data: bytes, known: dict[int, int] | None = None) -> list[Span]:
    """Byte ranges worth storing once: top-level array elements and large members, in order.

    `known` maps the start of a value to its end where an earlier body had the same bytes up to
    and including that value (see `common_prefix`): those values are not parsed again.
    """
    text = data.decode("latin-1")
    idx = _WS.match(text, 0).end()  # type: ignore[union-attr]
    found: list[Span] = []
    if text[idx : idx + 1] != "{":
        return found
    with contextlib.suppress(_Stop, ValueError, IndexError, RecursionError):
        _object(text, idx, 1, found, known or {})
    return found


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix, by bisection over C-speed comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.startswith(b[lo:mid], lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _skip(text: str, idx: int) -> int:
    return _WS.match(text, idx).end()  # type: ignore[union-attr]


def _value_end(text: str, idx: int, known: dict[int, int]) -> int:
    end = known.get(idx)
    if end is None:
        _, end = _DECODER.raw_decode(text, idx)
    return int(end)


def _object(text: str, idx: int, depth: int, found: list[Span], known: dict[int, int]) -> int:
    """Walk the members of the object at `idx`; returns the index after its `}`."""
    idx = _skip(text, idx + 1)
    if text[idx] == "}":
        return idx + 1
    while True:
        if text[idx] != '"':
            raise _Stop
        _, idx = _scanstring(text, idx + 1, False)
        idx = _skip(text, idx)
        if text[idx] != ":":
            raise _Stop
        idx = _skip(text, idx + 1)
        first = text[idx]
        if first == "[":
            idx = _array(text, idx, found, known)
        elif first == "{" and depth < MAX_DEPTH:
            idx = _object(text, idx, depth + 1, found, known)
        else:
            end = _value_end(text, idx, known)
            if first in '{"' and end - idx >= MIN_CHUNK:
                found.append((idx, end))
            idx = end
        idx = _skip(text, idx)
        if text[idx] == "}":
            return idx + 1
        if text[idx] != ",":
            raise _Stop
        idx = _skip(text, idx + 1)


def _array(text: str, idx: int, found: list[Span], known: dict[int, int]) -> int:
    """Each object, array or string element of the array at `idx` is a span of its own."""
    idx = _skip(text, idx + 1)
    if text[idx] == "]":
        return idx + 1
    get, separator = known.get, _SEPARATOR.match  # the loop runs once per message of a conversation
    while True:
        end = get(idx)
        if end is None:
            end = _DECODER.raw_decode(text, idx)[1]
        if end - idx >= MIN_CHUNK and text[idx] in '{["':
            found.append((idx, end))
        sep = separator(text, end)
        if sep is None:
            raise _Stop
        if sep.group(1) == "]":
            return sep.start(1) + 1
        idx = sep.end()


# -- recipes --------------------------------------------------------------------------------------
# Layout: u32 count n, n x u32 literal length before each reference, n x i64 id delta, u32 length of
# the literal tail, then all literal bytes. Consecutive turns reference consecutive blob ids, so
# the deltas are mostly 1 and the whole recipe compresses to a few bytes per reference.


def encode_recipe(data: bytes, found: Sequence[Span], ids: Sequence[int]) -> bytes:
    if len(found) != len(ids):
        raise ValueError(f"{len(found)} spans but {len(ids)} ids")
    starts = [start for start, _ in found]
    ends = [end for _, end in found]
    before = [0, *ends[:-1]]  # where the literal before each span begins
    gaps = [start - prev for start, prev in zip(starts, before, strict=True)]
    if (gaps and min(gaps) < 0) or any(end <= start for start, end in found) or (ends and ends[-1] > len(data)):
        raise ValueError("spans out of order or out of range")
    literals = [data[prev:start] for prev, start in zip(before, starts, strict=True)]
    tail = ends[-1] if ends else 0
    literals.append(data[tail:])
    deltas = [bid - prev for bid, prev in zip(ids, [0, *ids[:-1]], strict=True)]
    n = len(gaps)
    head = struct.pack(f"<I{n}I{n}qI", n, *gaps, *deltas, len(data) - tail)
    return zlib.compress(head + b"".join(literals), 1)


def decode_recipe(recipe: bytes) -> tuple[list[int], list[bytes]]:
    """The referenced blob ids and the n + 1 literal pieces around them."""
    raw = zlib.decompress(recipe)
    (n,) = struct.unpack_from("<I", raw)
    fields = struct.unpack_from(f"<{n}I{n}qI", raw, 4)
    gaps, deltas, tail = fields[:n], fields[n : 2 * n], fields[2 * n]
    ids = list(accumulate(deltas))
    pos = 4 + struct.calcsize(f"<{n}I{n}qI")
    pieces = []
    for gap in (*gaps, tail):
        pieces.append(raw[pos : pos + gap])
        pos += gap
    if pos != len(raw):
        raise ValueError("recipe literals do not add up")
    return ids, pieces


def assemble(pieces: Sequence[bytes], chunks: Sequence[bytes]) -> bytes:
    out = [pieces[0]]
    for chunk, literal in zip(chunks, pieces[1:], strict=True):
        out.append(chunk)
        out.append(literal)
    return b"".join(out)
