"""The recorder's SSE events: the wire reader's framing, stamped with arrival time."""

from __future__ import annotations

import pytest

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.sse import SSEParser

FRAMINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


@pytest.mark.parametrize("eol", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_two_events_recorded_whatever_the_framing_and_split(eol: bytes) -> None:
    data = b"event: a" + eol + b"data: 1" + eol + eol + b"data: 2" + eol + eol
    for cut in range(len(data) + 1):
        parser = SSEParser()
        got = parser.feed(data[:cut], now=1.0) + parser.feed(data[cut:], now=2.0)
        assert [(e.event, e.data) for e in got] == [("a", "1"), (None, "2")], f"split at {cut}"


def test_events_carry_the_time_their_last_bytes_arrived() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: 1\n", now=1.0) == []
    assert parser.feed(b"\ndata: 2\n\n", now=2.0) == [SSEEvent(t=2.0, data="1"), SSEEvent(t=2.0, data="2")]
