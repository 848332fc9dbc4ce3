"""The incremental SSE reader and writer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccproxy.wire.sse import SSE, SSEReader, encode, parse_block


def test_events_complete_only_at_a_blank_line_whatever_the_split() -> None:
    data = b"event: a\ndata: 1\n\n: comment\ndata: 2\ndata: 3\n\n"
    for step in (1, 2, 5, len(data)):
        reader = SSEReader()
        got = [e for i in range(0, len(data), step) for e in reader.feed(data[i : i + step])]
        assert got == [SSE("a", "1"), SSE(None, "2\n3")]


def test_crlf_and_cr_line_endings() -> None:
    assert SSEReader().feed(b"data: x\r\n\r\ndata: y\r\r") == [SSE(None, "x"), SSE(None, "y")]


def test_flush_keeps_a_last_complete_line_but_not_a_torn_one() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: [DONE]\n") == []
    assert reader.flush() == [SSE(None, "[DONE]")]
    torn = SSEReader()
    torn.feed(b'data: {"half')
    assert torn.flush() == []


def test_comment_only_block_is_no_event() -> None:
    assert parse_block(": keep-alive") is None


def test_encode_json_and_text() -> None:
    assert encode({"a": "é"}, "x") == 'event: x\ndata: {"a":"é"}\n\n'.encode()
    assert encode("[DONE]") == b"data: [DONE]\n\n"


# -- framing: one reader for every line ending, however the bytes are split ------------------------

FRAMINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}
_text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12)
_event = st.tuples(st.none() | _text, st.lists(_text, min_size=1, max_size=3))


def frame(events: list[tuple[str | None, list[str]]], eol: bytes) -> bytes:
    out = b""
    for name, lines in events:
        if name is not None:
            out += b"event: " + name.encode() + eol
        out += b"".join(b"data: " + line.encode() + eol for line in lines) + eol
    return out


def read_in_pieces(data: bytes, cuts: list[int]) -> list[SSE]:
    reader, got, start = SSEReader(), [], 0
    for cut in [*sorted(set(cuts)), len(data)]:
        got += reader.feed(data[start:cut])
        start = cut
    return got + reader.flush()


@pytest.mark.parametrize("eol", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_every_split_position_of_two_events(eol: bytes) -> None:
    data = frame([("a", ["1"]), (None, ["2", "3"])], eol)
    want = [SSE("a", "1"), SSE(None, "2\n3")]
    for cut in range(len(data) + 1):
        assert read_in_pieces(data, [cut]) == want, f"split at {cut}: {data[:cut]!r} | {data[cut:]!r}"


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_event, max_size=5),
    eol=st.sampled_from(list(FRAMINGS.values())),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_framing_any_split(events: list[tuple[str | None, list[str]]], eol: bytes, cuts: list[int]) -> None:
    data = frame(events, eol)
    want = [SSE(name, "\n".join(lines)) for name, lines in events]
    assert read_in_pieces(data, [c for c in cuts if c <= len(data)]) == want


def test_a_crlf_blank_line_split_after_its_cr_ends_the_event_once() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: 1\r\n\r") == [SSE(None, "1")]
    assert reader.feed(b"\ndata: 2\r\n\r\n") == [SSE(None, "2")]


def test_flush_after_a_pending_cr_keeps_the_event() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: x\r") == []
    assert reader.flush() == [SSE(None, "x")]


def test_the_lf_of_a_split_crlf_is_skipped_once_not_twice() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: 1\r") == []
    assert reader.feed(b"\n") == []
    assert reader.feed(b"\n") == [SSE(None, "1")]  # CRLF, then an LF blank line


def oracle(data: bytes) -> list[SSE]:
    """The events of a whole stream, from `bytes.splitlines` (LF, CR and CRLF each end one line)."""
    lines = data.splitlines()
    if data and not data.endswith((b"\n", b"\r")):
        lines.pop()  # a torn last line is not read until its line ends
    events, block = [], []
    for line in lines:
        if line:
            block.append(line)
            continue
        event = parse_block(b"\n".join(block).decode()) if block else None
        block = []
        if event is not None:
            events.append(event)
    return events


_piece = st.sampled_from([b"data: a", b"data: b", b"event: e", b": c", b"id: 1", b"\r", b"\n", b"\r\n"])


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_piece, max_size=24), cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_mixed_line_endings_split_anywhere_read_like_the_whole_stream(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    reader, got, start = SSEReader(), [], 0
    for cut in [*sorted({c for c in cuts if c <= len(data)}), len(data)]:
        got += reader.feed(data[start:cut])
        start = cut
    assert got == oracle(data)
