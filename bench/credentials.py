"""Credential sources under load: `command` (cached, and uncached as before) vs `env` vs bare mitmdump.

Run: uv run python bench/credentials.py [--requests N] [--max-seconds S]
One daemon holds three providers at the fake, differing only in their credential source: `env`,
`command` with the default cache (`auth.cache_ttl`: 300 s) and `command` with `cache_ttl: 0` (a
process per request, ccproxy's behaviour before the cache). Each load is split into rounds that
alternate between the targets in rotated order, so a slow spell of a shared machine hits all alike. Prints requests/s
and p50/p99 for concurrency 1 and 16, and the ratios against `env` and bare mitmdump.
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import time

from common import ROOT, Daemon, FakeProcess, LoadResult, compile_sources, load
from proxy import BODY, mitmdump

COMMAND = "printf bench-command-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per concurrency-16 run")
    parser.add_argument("--requests-c1", type=int, default=300, help="requests per concurrency-1 run")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time bound per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds each load is split into")
    args = parser.parse_args()

    compile_sources()
    fake = FakeProcess(answer_size=2048)
    host = fake.host
    base = {"provider": "anthropic", "host": host, "scheme": "http"}
    providers = {
        "envp": {**base, "auth": {"type": "env", "env": "FAKE_ANTHROPIC_KEY"}},
        "cmdp": {**base, "auth": {"type": "command", "command": COMMAND}},
        "cmd0": {**base, "auth": {"type": "command", "command": COMMAND, "cache_ttl": 0}},
    }
    dump, dump_url = mitmdump(fake.url)
    daemon = Daemon(host, {"providers": providers})
    results: dict[tuple[str, int], LoadResult] = {}
    try:
        daemon.wait_healthy()
        targets = {
            "mitmdump": (dump_url + "/v1/messages", {"x-api-key": "direct"}),
            "env": (daemon.url + "/v1/messages", {"x-api-key": "sk-ant-oat-ccproxy-envp"}),
            "command": (daemon.url + "/v1/messages", {"x-api-key": "sk-ant-oat-ccproxy-cmdp"}),
            "command-ttl0": (daemon.url + "/v1/messages", {"x-api-key": "sk-ant-oat-ccproxy-cmd0"}),
        }
        for conc, total in ((1, args.requests_c1), (16, args.requests)):
            rounds: dict[str, list[LoadResult]] = {name: [] for name in targets}
            names = list(targets)
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[: r % len(names)]:  # rotated: no target always follows another
                    url, headers = targets[name]
                    part = max(conc, total // args.rounds)
                    rounds[name].append(load(url, headers, BODY, conc, part, args.max_seconds / args.rounds))
            for name, parts in rounds.items():
                res = LoadResult(
                    sum(r.requests for r in parts), sum(r.seconds for r in parts), [x for r in parts for x in r.latencies]
                )
                results[(name, conc)] = res
                print(res.line(f"{name} c={conc}"), flush=True)
    finally:
        dump.terminate()
        daemon.stop()
        fake.stop()

    print()
    for conc in (1, 16):
        env, dumped = results[("env", conc)], results[("mitmdump", conc)]
        for name in ("command", "command-ttl0"):
            r = results[(name, conc)]
            print(f"c={conc:<2} {name:<13} rps/env {r.rps / env.rps:.2f}x  p50/env {r.pct(0.5) / env.pct(0.5):.2f}x  "
                  f"rps/mitmdump {r.rps / dumped.rps:.2f}x  p50/mitmdump {r.pct(0.5) / dumped.pct(0.5):.2f}x")
    print("goal: cached `command` within 5% of `env` (rps/env >= 0.95)")
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
