"""Proxy throughput with OTLP export off and on (a live receiver), side by side, at several concurrencies.

Run: uv run python bench/telemetry.py [--requests N] [--rounds R] [--concurrency 16 64]
                                       [--baseline /work/main] [--collector-down]
A fast upstream (the fake provider in its own process) makes the proxy CPU-bound, where export costs
show. Rounds alternate between the daemons (this tree's off/on, and the baseline's with --baseline),
so a slow spell of the shared machine hits all alike; per concurrency it prints requests/s and
p50/p99 of each daemon, and the median over rounds of each round's on/off ratio (goal: >= 0.95x).
The receiver decodes spans in its own process. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Daemon, FakeProcess, LoadResult, compile_sources, free_port, load

BODY = {"model": "bench", "max_tokens": 512, "messages": [{"role": "user", "content": "bench"}]}
HEADERS = {"x-api-key": "sk-ant-oat-ccproxy-anthropic"}


def serve_receiver() -> None:
    """Child process: the OTLP receiver, so decoding spans does not compete with the load generator's GIL."""
    from tests.fakes.otlp import OtlpReceiver  # importable once `common` put the repository on sys.path

    receiver = OtlpReceiver().start()
    print(receiver.url, flush=True)
    sys.stdin.read()  # until the parent closes stdin
    receiver.stop()
    print(len(receiver.spans), flush=True)


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-receiver"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def stop_receiver(proc: subprocess.Popen[str]) -> int:
    out, _ = proc.communicate("", timeout=30)
    return int(out.strip() or 0)


def make_daemons(fake: FakeProcess, receiver_url: str, baseline: Path | None, down: bool) -> dict[str, Daemon]:
    trees: dict[str, Path | None] = {"this tree": None, **({"baseline": baseline} if baseline else {})}
    daemons: dict[str, Daemon] = {}
    for tree, src in trees.items():
        daemons[f"{tree}: export off"] = Daemon(fake.host, src=src)
        daemons[f"{tree}: export on"] = Daemon(fake.host, {"telemetry": {"otlp": {"endpoint": receiver_url}}}, src=src)
        if down:
            daemons[f"{tree}: export on, collector down"] = Daemon(
                fake.host, {"telemetry": {"otlp": {"endpoint": f"http://127.0.0.1:{free_port()}", "timeout": 2}}},
                src=src)
    return daemons


def main() -> None:
    if "--serve-receiver" in sys.argv:
        serve_receiver()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per daemon and concurrency")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds each load is split into")
    parser.add_argument("--max-seconds", type=float, default=40.0, help="time bound per daemon and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--baseline", type=Path, help="another checkout run side by side (e.g. /work/main)")
    parser.add_argument("--collector-down", action="store_true", help="also a daemon exporting to nothing")
    args = parser.parse_args()

    compile_sources()
    fake = FakeProcess(answer_size=2048)
    receiver, receiver_url = start_receiver()
    daemons = make_daemons(fake, receiver_url, args.baseline, args.collector_down)
    try:
        for d in daemons.values():
            d.wait_healthy()
        for conc in args.concurrency:
            rounds: dict[str, list[LoadResult]] = {name: [] for name in daemons}
            for _ in range(args.rounds):
                for name, d in daemons.items():
                    part = max(conc, args.requests // args.rounds)
                    rounds[name].append(load(d.url + "/v1/messages", HEADERS, BODY, conc, part,
                                             args.max_seconds / args.rounds))
            for name, parts in rounds.items():
                total = LoadResult(sum(r.requests for r in parts), sum(r.seconds for r in parts),
                                   [x for r in parts for x in r.latencies])
                print(total.line(f"{name} c={conc}"), flush=True)
            for name in rounds:
                tree, _, mode = name.partition(": ")
                if mode == "export off":
                    continue
                ratios = [on.rps / off.rps for on, off in zip(rounds[name], rounds[f"{tree}: export off"], strict=True)]
                print(f"  {tree} c={conc}: {mode} / export off = {statistics.median(ratios):.2f}x median of "
                      f"{len(ratios)} rounds ({min(ratios):.2f}-{max(ratios):.2f})  (goal: >= 0.95x)", flush=True)
    finally:
        for d in daemons.values():
            d.stop()  # the "on" daemons flush their last spans on the way out
        spans = stop_receiver(receiver)
        fake.stop()
    print(f"spans decoded by the OTLP receiver (its own process): {spans}")
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
