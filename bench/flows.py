"""The flow store at scale: `flows list --json` over 10,000 stored flows, and daemon memory as flows pile up.

Run: uv run python bench/flows.py [--flows N] [--daemon-requests N] [--max-seconds S]
Part 1 fills a store with N realistic records (SDK-sized headers, multi-KB bodies) and times the
CLI: `flows list --json` (bar: < 1000 ms at 10,000 flows), with one jq filter, and `flows show`.
Part 2 sends requests through a real daemon in batches and prints its RSS after each batch:
memory must level off (mitmweb keeps only `inspector.view_limit` flows; the store has the rest).
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Daemon, FakeProcess, load, wait_until
from tests.store.factory import make_record

from ccproxy.store.db import FlowStore

SDK_HEADERS = [
    ("host", "127.0.0.1:4000"), ("accept-encoding", "gzip, deflate"), ("connection", "keep-alive"),
    ("accept", "application/json"), ("content-type", "application/json"), ("user-agent", "Anthropic/Python 0.69.0"),
    ("x-stainless-lang", "python"), ("x-stainless-package-version", "0.69.0"), ("x-stainless-os", "Linux"),
    ("x-stainless-arch", "x64"), ("x-stainless-runtime", "CPython"), ("x-stainless-runtime-version", "3.13.0"),
    ("anthropic-version", "2023-06-01"), ("x-api-key", "sk-ant-oat-ccproxy-anthropic"),
    ("anthropic-beta", "prompt-caching-2024-07-31"),
]
RESPONSE_HEADERS = [
    ["content-type", "application/json"], ["request-id", "req_011CVxyz"], ["anthropic-ratelimit-requests-limit", "4000"],
    ["anthropic-ratelimit-tokens-remaining", "399000"], ["cf-ray", "8f1c2d3e4f5a6b7c-AMS"], ["server", "cloudflare"],
]


def fill(path: Path, count: int) -> float:
    """Write `count` records (5% errors, a growing conversation) the way the daemon's writer does."""
    t0 = time.perf_counter()
    now = time.time() - count
    history: list[dict[str, str]] = [{"role": "user", "content": "Refactor the flow store for speed."}]
    with FlowStore(path, create=True) as store:
        batch = []
        for i in range(count):
            history = [*history[-20:], {"role": "assistant", "content": f"step {i} " * 20},
                       {"role": "user", "content": f"continue {i}"}]
            body = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": "You are a careful engineer. " * 30,
                    "messages": history}
            batch.append(make_record(
                ts=now + i, body=body, client_headers=SDK_HEADERS, resp_headers=RESPONSE_HEADERS,
                status=500 if i % 20 == 0 else 200,
                response_body=json.dumps({"type": "message", "content": [{"type": "text", "text": "ok " * 200}],
                                          "usage": {"input_tokens": 1200 + i, "output_tokens": 150}}).encode(),
            ))
            if len(batch) == 500:
                store.put(batch)
                batch = []
        if batch:
            store.put(batch)
    return time.perf_counter() - t0


#: An installed ccproxy runs from cached bytecode; without it every run recompiles pydantic & co. The cache
#: goes to a temp dir so the source tree stays clean.
CLI_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CLI_ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "ccproxy-bench-pycache")


def wall(cmd: list[str], runs: int = 5) -> tuple[float, float, int]:
    """Median wall and CPU (user+sys) time in ms, and the output size, after one warm-up run."""
    subprocess.run(cmd, capture_output=True, check=True, env=CLI_ENV)
    walls, cpus, size = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, check=True, env=CLI_ENV).stdout
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        size = len(out)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, size


def bench_store(count: int) -> None:
    cfg = Path(tempfile.mkdtemp(prefix="ccproxy-bench-flows-"))
    (cfg / "ccproxy.yaml").write_text("ccproxy:\n  flows:\n    retention:\n      max_count: 1000000\n"
                                      "      max_age_days: 36500\n")
    seconds = fill(cfg / "flows.sqlite3", count)
    size_mb = sum(p.stat().st_size for p in cfg.glob("flows.sqlite3*")) / 1e6
    print(f"filled {count} flows in {seconds:.1f} s ({count / seconds:.0f} flows/s), store {size_mb:.1f} MB")
    base = [sys.executable, "-m", "ccproxy.cli.main", "--config", str(cfg), "flows"]
    with FlowStore(cfg / "flows.sqlite3") as store:
        some_id = store.ids()[count // 2]
    runs = {
        "flows list --json": [*base, "list", "--json"],
        "flows list --json --jq <status>=500>": [*base, "list", "--json", "--jq",
                                                  "map(select(.response.status_code >= 500))"],
        "flows show <8-char prefix>": [*base, "show", some_id[:8]],
        "ccproxy --help (baseline)": [sys.executable, "-m", "ccproxy.cli.main", "--help"],
    }
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time suffers under load; "
          "CPU time does not)")
    for label, cmd in runs.items():
        ms, cpu, size = wall(cmd)
        bar = "   (bar: < 1000 ms)" if label == "flows list --json" else ""
        print(f"{label:<40} wall {ms:6.0f} ms  cpu {cpu:6.0f} ms  (median of 5), {size / 1e6:6.2f} MB out{bar}")


def bench_daemon_memory(total: int, batch: int, max_seconds: float) -> None:
    fake = FakeProcess(sse_delay=0.0)  # a knob is needed: FakeProcess() alone builds an invalid command
    daemon = Daemon(fake.host, {"flows": {"retention": {"max_count": 1_000_000, "max_age_days": 36500}}})
    try:
        daemon.wait_healthy()
        url, headers = daemon.url + "/v1/messages", {"x-api-key": "sk-ant-oat-ccproxy-anthropic"}
        body = {"model": "bench", "max_tokens": 512, "system": "x" * 2000,
                "messages": [{"role": "user", "content": "bench " * 200}]}
        print(f"daemon RSS at start: {daemon.rss_mb():.1f} MB")
        sent = 0
        while sent < total:
            res = load(url, headers, body, 16, batch, max_seconds)
            sent += res.requests + 64  # load() warms up with 4 x concurrency requests first

            def stored(expected: int = sent) -> bool:
                path = daemon.dir / "flows.sqlite3"
                if not path.exists():
                    return False
                with FlowStore(path) as store:
                    return store.count() >= expected

            wait_until(stored, 60, f"{sent} flows in the store")
            print(f"after {sent:>6} flows stored: RSS {daemon.rss_mb():7.1f} MB   ({res.rps:.0f} req/s)", flush=True)
    finally:
        daemon.stop()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000, help="records in the store for the CLI timings")
    parser.add_argument("--daemon-requests", type=int, default=10_000, help="requests sent through the daemon")
    parser.add_argument("--batch", type=int, default=2_000, help="requests between RSS samples")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound per batch")
    args = parser.parse_args()
    bench_store(args.flows)
    print()
    bench_daemon_memory(args.daemon_requests, args.batch, args.max_seconds)
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
