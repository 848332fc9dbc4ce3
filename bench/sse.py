"""The SSE reader's cost: events per second read by `wire.sse.SSEReader` (what the translators and the
recorder both use), for the golden SSE fixtures fed one event, 64 bytes and one byte per chunk.

Run: uv run python bench/sse.py [--rounds N]
Prints numbers only; no bar (the reader's cost is a fraction of a proxied event's, see bench/transform.py).
"""

from __future__ import annotations

import argparse
import time

from common import ROOT

from ccproxy.wire.sse import SSEReader


def events_per_second(chunks: list[bytes], rounds: int) -> float:
    best, count = float("inf"), 0
    for _ in range(5):
        started, count = time.perf_counter(), 0
        for _ in range(rounds):
            reader = SSEReader()
            for chunk in chunks:
                count += len(reader.feed(chunk))
        best = min(best, time.perf_counter() - started)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    data = b"".join(p.read_bytes() for p in sorted((ROOT / "tests" / "fixtures").rglob("*.sse")))
    per_event = [e + b"\n\n" for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    stream = b"".join(per_event)
    for name, chunks, rounds in (
        ("one event per chunk", per_event, args.rounds),
        ("64 bytes per chunk", [stream[i : i + 64] for i in range(0, len(stream), 64)], args.rounds),
        ("one byte per chunk", [stream[i : i + 1] for i in range(len(stream))], max(1, args.rounds // 20)),
    ):
        print(f"{name:>22}: {events_per_second(chunks, rounds) / 1000:8.1f}k events/s ({len(per_event)} events)")


if __name__ == "__main__":
    main()
