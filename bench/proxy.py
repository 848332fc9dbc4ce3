"""Proxy overhead: direct vs bare mitmdump (reverse mode) vs ccproxy's default chain.

Run: uv run python bench/proxy.py [--requests N] [--max-seconds S]
Prints requests/s, p50/p99 latency for concurrency 1 and 16, the ratios against direct and against
bare mitmdump, ccproxy's RSS after the run, start-to-healthy time and `ccproxy --help` wall time.
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import (
    ROOT,
    Daemon,
    FakeProcess,
    LoadResult,
    compile_sources,
    free_port,
    http_ok,
    load,
    median_wall,
    wait_until,
)

BODY = {"model": "bench", "max_tokens": 512, "messages": [{"role": "user", "content": "bench"}]}


def mitmdump(fake_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = Path(sys.executable).with_name("mitmdump")
    proc = subprocess.Popen(
        [str(exe), "-q", "--mode", f"reverse:{fake_url}@127.0.0.1:{port}", "--set", "connection_strategy=lazy"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(url + "/v1/models"), 30, "bare mitmdump")
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per concurrency-16 run")
    parser.add_argument("--requests-c1", type=int, default=600, help="requests per concurrency-1 run")
    parser.add_argument("--max-seconds", type=float, default=45.0, help="time bound per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds each load is split into")
    args = parser.parse_args()

    compile_sources()
    fake = FakeProcess(answer_size=2048)
    results: dict[tuple[str, int], LoadResult] = {}
    starts = []
    for _ in range(3):  # start-up on its own, before any load: the median of three
        probe = Daemon(fake.host)
        starts.append(probe.wait_healthy())
        probe.stop()
    start_to_healthy = statistics.median(starts)
    dump, dump_url = mitmdump(fake.url)
    daemon = Daemon(fake.host)
    try:
        daemon.wait_healthy()
        targets = {
            "direct": (fake.url + "/v1/messages", {"x-api-key": "direct"}),
            "mitmdump": (dump_url + "/v1/messages", {"x-api-key": "direct"}),
            "ccproxy": (daemon.url + "/v1/messages", {"x-api-key": "sk-ant-oat-ccproxy-anthropic"}),
        }
        # Each load is split into rounds that alternate between the targets, so a slow spell of a
        # shared machine hits all three alike; a target's figures pool its rounds.
        for conc, total in ((1, args.requests_c1), (16, args.requests)):
            rounds: dict[str, list[LoadResult]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, headers) in targets.items():
                    part = max(conc, total // args.rounds)
                    rounds[name].append(load(url, headers, BODY, conc, part, args.max_seconds / args.rounds))
            for name, parts in rounds.items():
                res = LoadResult(
                    sum(r.requests for r in parts), sum(r.seconds for r in parts), [x for r in parts for x in r.latencies]
                )
                results[(name, conc)] = res
                print(res.line(f"{name} c={conc}"), flush=True)
        rss = daemon.rss_mb()
    finally:
        dump.terminate()
        daemon.stop()
        fake.stop()

    help_ms = median_wall([str(Path(sys.executable).with_name("ccproxy")), "--help"])
    d1, m1, c1 = (results[(n, 1)] for n in ("direct", "mitmdump", "ccproxy"))
    d16, m16, c16 = (results[(n, 16)] for n in ("direct", "mitmdump", "ccproxy"))
    print()
    print(f"p50 c=1:   ccproxy/direct {c1.pct(0.5) / d1.pct(0.5):.2f}x   ccproxy/mitmdump {c1.pct(0.5) / m1.pct(0.5):.2f}x"
          f"   (bar: <= 1.25x mitmdump)")
    print(f"rps c=16:  ccproxy/direct {c16.rps / d16.rps:.2f}x   ccproxy/mitmdump {c16.rps / m16.rps:.2f}x"
          f"   (bar: >= 0.8x mitmdump)")
    print(f"ccproxy RSS after run (daemon + flow-store writer): {rss:.1f} MB")
    print(f"start -> healthy (proxy + inspector): {start_to_healthy * 1000:.0f} ms median of 3"
          f" ({', '.join(f'{t * 1000:.0f}' for t in starts)})   (bar: < 2000 ms)")
    print(f"ccproxy --help: {help_ms:.0f} ms median of 5   (bar: < 300 ms)")
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
