"""Proxy throughput with OTLP export off, on (a live receiver) and on with the collector down.

Run: uv run python bench/telemetry.py [--requests N] [--rounds R] [--max-seconds S]
Prints requests/s and p50/p99 at concurrency 16 for each daemon, the ratios against export off
(goal: >= 0.95x), and how many spans the receiver decoded. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

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


def main() -> None:
    if "--serve-receiver" in sys.argv:
        serve_receiver()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per daemon at concurrency 16")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds each load is split into")
    parser.add_argument("--max-seconds", type=float, default=45.0, help="time bound per daemon")
    args = parser.parse_args()

    compile_sources()
    fake = FakeProcess(answer_size=2048)
    receiver, receiver_url = start_receiver()
    spans = 0
    daemons = {
        "export off": Daemon(fake.host),
        "export on": Daemon(fake.host, {"telemetry": {"otlp": {"endpoint": receiver_url}}}),
        "export on, collector down": Daemon(
            fake.host, {"telemetry": {"otlp": {"endpoint": f"http://127.0.0.1:{free_port()}", "timeout": 2}}}
        ),
    }
    results: dict[str, LoadResult] = {}
    try:
        for d in daemons.values():
            d.wait_healthy()
        rounds: dict[str, list[LoadResult]] = {name: [] for name in daemons}
        # Rounds alternate between the daemons, so a slow spell of a shared machine hits all alike.
        for _ in range(args.rounds):
            for name, d in daemons.items():
                part = max(16, args.requests // args.rounds)
                rounds[name].append(load(d.url + "/v1/messages", HEADERS, BODY, 16, part, args.max_seconds / args.rounds))
        for name, parts in rounds.items():
            results[name] = LoadResult(
                sum(r.requests for r in parts), sum(r.seconds for r in parts), [x for r in parts for x in r.latencies]
            )
            print(results[name].line(f"{name} c=16"), flush=True)
    finally:
        for d in daemons.values():
            d.stop()  # the "on" daemon flushes its last spans on the way out
        spans = stop_receiver(receiver)
        fake.stop()
    off = results["export off"]
    print()
    for name in ("export on", "export on, collector down"):
        print(f"rps c=16: {name} / export off = {results[name].rps / off.rps:.2f}x   (goal: >= 0.95x)")
    print(f"spans decoded by the OTLP receiver (its own process): {spans}")
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
