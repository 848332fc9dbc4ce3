"""The flow writer alone: how many finished flows a second it stores, against the proxy's top rate.

Run: uv run python bench/writer.py [--flows 1500] [--body-kb 40 1] [--baseline /work/main]
Builds captures the way the recorder does (mitmweb's flow JSON, a metadata snapshot, the bodies: an
agent-like request of --body-kb KB that grows by one turn per flow, as a session does, and a small
answer), submits them all to a `StoreWriter` at once (more than its memory holds, so the journal's
read-back path is in the figure) and times until every one is stored. With --baseline, the same run
on another checkout's source (e.g. main, read-only), interleaved, so the ratio is side by side on
the same machine. Compare with the proxy's top rate from bench/burst.py (~415 req/s of 40 KB bodies
on the 2-core machine). Everything stays in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["the", "tool", "call", "returned", "a", "diff", "of", "the", "repository", "with", "several", "files", "changed", "and", "a", "failing", "test"]


def run_one(flows: int, body_kb: int) -> float:
    """In a fresh interpreter whose `ccproxy` is the checkout under test: stored flows per second."""
    import random

    from ccproxy.flowmeta import FlowMeta
    from ccproxy.store.db import FlowStore
    from ccproxy.store.record import Captured
    from ccproxy.store.writer import StoreWriter

    sys.path.insert(0, str(ROOT))
    from tests.store.factory import web_json

    rng = random.Random(7)
    turn = body_kb * 1024 // 20  # a session: each request repeats the history and adds a turn
    messages: list[dict[str, str]] = []
    caps = []
    t0 = 2_000_000_000.0
    for i in range(flows):
        if i % 20 == 0:
            messages = []  # a new session every 20 turns keeps bodies near --body-kb
        text = " ".join(rng.choice(WORDS) for _ in range(max(1, turn // 6)))
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
        body = json.dumps({"model": "claude-bench", "max_tokens": 1024, "messages": messages}).encode()
        answer = json.dumps({"id": f"msg_{i}", "type": "message", "role": "assistant", "model": "claude-bench",
                             "content": [{"type": "text", "text": "ok " * 20}],
                             "usage": {"input_tokens": len(body) // 4, "output_tokens": 20}}).encode()
        caps.append(Captured(web=web_json(f"bench-{i:06d}", t0 + i), meta=FlowMeta(source="reverse"),
                             request_body=body, response_body=answer))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.sqlite3"
        writer = StoreWriter(path, max_count=10_000_000, max_age_days=3650).start()
        start = time.monotonic()
        for cap in caps:
            writer.submit(cap)
        ok = writer.flush(150)
        elapsed = time.monotonic() - start
        writer.close(60)
        with FlowStore(path) as store:
            stored = store.count()
        if not ok or stored != flows:
            raise SystemExit(f"only {stored} of {flows} flows stored")
    return flows / elapsed


def measure(src: Path, flows: int, body_kb: int) -> float:
    """Flows/s, or 0 when the run did not finish in 3 minutes (main's writer could hang on frames left
    in its buffer after a full batch)."""
    env = {**os.environ, "PYTHONPATH": str(src / "src")}
    try:
        out = subprocess.run([sys.executable, __file__, "--one", str(flows), str(body_kb)], env=env, check=True,
                             capture_output=True, text=True, timeout=180).stdout
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return 0.0
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=1500)
    parser.add_argument("--body-kb", type=int, nargs="+", default=[40, 1])
    parser.add_argument("--baseline", type=Path, help="another checkout to measure side by side (e.g. /work/main)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(run_one(*args.one))
        return
    for kb in args.body_kb:
        ours, base = [], []
        for _ in range(args.rounds):
            ours.append(measure(ROOT, args.flows, kb))
            if args.baseline:
                base.append(measure(args.baseline, args.flows, kb))
        line = f"{kb:>3} KB bodies, {args.flows} flows: this tree {max(ours):.0f} flows/s"
        if base:
            line += f", baseline {max(base):.0f} flows/s ({max(ours) / max(base):.2f}x)"
        print(line + f"  (best of {args.rounds})", flush=True)


if __name__ == "__main__":
    main()
