"""The recorded provider's loopback server: framing, keep-alive, and a stream at its recorded pace."""

from __future__ import annotations

import asyncio

from ccproxy.addons.recorded import _write
from ccproxy.flows.recorded_answer import Replayed


class Sink:
    """A StreamWriter stand-in that notes when each write happened (event-loop time)."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.writes.append((asyncio.get_running_loop().time(), data))

    async def drain(self) -> None:
        return None


def run(answer: Replayed, fast: bool) -> list[tuple[float, bytes]]:
    async def go() -> list[tuple[float, bytes]]:
        sink = Sink()
        await _write(sink, answer, fast)  # type: ignore[arg-type]
        return sink.writes

    return asyncio.run(go())


STREAM = Replayed(200, [("content-type", "text/event-stream")],
                  chunks=[(0.0, b"event: a\ndata: 1\n\n"), (0.05, b"event: b\ndata: 2\n\n"), (0.1, b"data: 3\n\n")],
                  streamed=True)


def test_a_stream_is_chunked_and_never_sent_ahead_of_its_recorded_offsets() -> None:
    writes = run(STREAM, fast=False)
    head, *chunks, end = writes
    assert b"transfer-encoding: chunked" in head[1] and b"content-length" not in head[1]
    assert end[1] == b"0\r\n\r\n"
    assert [c[1] for c in chunks] == [b"%x\r\n%s\r\n" % (len(d), d) for _, d in STREAM.chunks]
    start = head[0]
    for (when, _), (offset, _) in zip(chunks, STREAM.chunks, strict=True):
        assert when - start >= offset - 0.002  # asyncio's clock resolution; a lower bound only, never an upper one


def test_fast_and_json_answers() -> None:
    fast = run(STREAM, fast=True)
    assert len(fast) == 5
    (only,) = run(Replayed(200, [("content-type", "application/json")], b'{"ok":1}'), fast=False)
    assert only[1].endswith(b'content-length: 8\r\n\r\n{"ok":1}') and only[1].startswith(b"HTTP/1.1 200 OK\r\n")
