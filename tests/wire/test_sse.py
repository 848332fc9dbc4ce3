"""The incremental SSE reader and writer."""

from __future__ import annotations

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
