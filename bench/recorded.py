"""A recorded session as the upstream vs the fake provider: throughput and first-byte time through ccproxy.

Run: uv run python bench/recorded.py [--requests N] [--max-seconds S]
Two daemons side by side: one forwards to the fake provider (the baseline), one answers from a recording
of the same requests (`provider: recorded`, `fast: true`, exported from the first). Prints JSON requests/s
at concurrency 1 and 16, and streamed first-byte time (p50/p99) with its ratio to the baseline; rounds
alternate between the two so a slow spell of a shared machine hits both alike. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import httpx
from common import Daemon, FakeProcess, LoadResult, compile_sources, load

JSON_BODY = {"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": "bench"}]}
STREAM_BODY = {**JSON_BODY, "stream": True, "messages": [{"role": "user", "content": "bench stream"}]}
HEADERS = {"x-api-key": "sk-ant-oat-ccproxy-anthropic", "anthropic-version": "2023-06-01"}


async def _first_bytes(url: str, total: int, max_seconds: float) -> LoadResult:
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    async with httpx.AsyncClient(timeout=30) as client:
        start = time.perf_counter()
        for _ in range(total):
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter()
            async with client.stream("POST", url, headers=HEADERS, json=STREAM_BODY) as resp:
                first = True
                async for _ in resp.aiter_raw():
                    if first:
                        latencies.append(time.perf_counter() - t0)
                        first = False
        elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), elapsed, latencies)


def record(fake_host: str) -> tuple[Daemon, str]:
    live = Daemon(fake_host)
    live.wait_healthy()
    for body in (JSON_BODY, STREAM_BODY):
        httpx.post(live.url + "/v1/messages", headers=HEADERS, json=body, timeout=30).raise_for_status()
    path = str(live.dir / "bench.recording.json")
    cmd = [sys.executable, "-m", "ccproxy.cli.main", "--config", str(live.dir), "flows", "export", "--recording", path]
    deadline = time.monotonic() + 30
    while True:  # the writer stores the two flows shortly after they finish
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        if "(2 flow(s)" in out.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return live, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="JSON requests per concurrency-16 run")
    parser.add_argument("--requests-c1", type=int, default=300, help="JSON requests per concurrency-1 run")
    parser.add_argument("--streams", type=int, default=200, help="streamed requests for first-byte time")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time bound per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    compile_sources()
    fake = FakeProcess(answer_size=2048, sse_events=40)
    live, path = record(fake.host)
    offline = Daemon(fake.host, {"providers": {"anthropic": {"provider": "recorded", "from": path, "fast": True}}})
    try:
        offline.wait_healthy()
        targets = {"fake provider": live.url + "/v1/messages", "recorded": offline.url + "/v1/messages"}
        results: dict[tuple[str, str], list[LoadResult]] = {}
        for _ in range(args.rounds):
            for name, url in targets.items():
                for label, conc, total in (("json c1", 1, args.requests_c1), ("json c16", 16, args.requests)):
                    part = max(conc, total // args.rounds)
                    results.setdefault((name, label), []).append(
                        load(url, HEADERS, JSON_BODY, conc, part, args.max_seconds / args.rounds))
                results.setdefault((name, "stream ttfb"), []).append(
                    asyncio.run(_first_bytes(url, args.streams // args.rounds, args.max_seconds / args.rounds)))
        pooled: dict[tuple[str, str], LoadResult] = {}
        for key, parts in results.items():
            pooled[key] = LoadResult(sum(p.requests for p in parts), sum(p.seconds for p in parts),
                                     [x for p in parts for x in p.latencies])
        for label in ("json c1", "json c16", "stream ttfb"):
            base, rec = pooled[("fake provider", label)], pooled[("recorded", label)]
            print(base.line(f"{label} fake provider"))
            print(rec.line(f"{label} recorded"))
            print(f"{'':26} recorded/fake: {rec.rps / base.rps:.2f}x req/s, p50 {rec.pct(0.5) / base.pct(0.5):.2f}x")
    finally:
        offline.stop()
        live.stop()
        fake.stop()




if __name__ == "__main__":
    main()
