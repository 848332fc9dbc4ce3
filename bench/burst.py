"""Agent-scale flow store: a burst at the proxy's top rate loses no flow; `flows dump` stays flat.

Run: uv run python bench/burst.py [--seconds 60] [--concurrency 16] [--body-kb 40] [--flows 3000]
Part 1 sends requests as fast as several concurrent clients can through a daemon in front of the
fake provider for --seconds, then waits (bounded) for the writer to catch up and prints flows sent
vs stored vs lost, how many waited in the spill file, and the daemon's peak RSS (goal: 0 lost).
--stall-writer S stops the writer process (SIGSTOP) for S seconds during the burst, standing in for
a disk that cannot keep up, so the spill path is exercised even where the writer would keep pace.
Part 2 writes --flows synthetic agent flows (request bodies 39-483 KB, conversation-like text) into
a store and times `ccproxy flows dump` over them: wall time, MB written, peak RSS of the CLI
(goal: < 250 MB at 3,000 flows). Part 3 (--restart N) starts a daemon on a store of N agent flows
and prints its idle RSS once mitmweb lists the restored flows (summaries; bodies stay in the store).
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, Daemon, FakeProcess, _children, wait_until
from tests.daemon import SECRETS
from tests.store.factory import make_record

from ccproxy.store.db import FlowStore
from ccproxy.store.writerstatus import read_stats

WORDS = ["the", "tool", "call", "returned", "a", "diff", "of", "the", "repository", "with", "several", "files", "changed", "and", "a", "failing", "test", "in", "the", "parser", "module", "so", "the", "agent", "reads", "the", "file", "again", "before", "it", "edits", "the", "function"]


def agent_body(rng: random.Random, size: int) -> dict[str, object]:
    """A conversation-shaped request of about `size` bytes (text compresses like real transcripts)."""
    turns, used = [], 0
    while used < size:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(200, 2000)))
        turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": text})
        used += len(text) + 40
    return {"model": "claude-bench", "max_tokens": 1024, "messages": turns}


def stored_count(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return int(db.execute("SELECT count(*) FROM flows").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return -1


async def _burst(url: str, body: bytes, concurrency: int, seconds: float) -> tuple[int, int]:
    ok = failed = 0
    deadline = time.monotonic() + seconds
    headers = {"x-api-key": "sk-ant-oat-ccproxy-anthropic", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal ok, failed
            while time.monotonic() < deadline:
                try:
                    resp = await client.post(url, headers=headers, content=body)
                except httpx.HTTPError:
                    failed += 1
                    continue
                if resp.status_code == 200:
                    ok += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


def writer_pid(daemon: Daemon) -> int | None:
    for pid in _children(daemon.proc.pid):
        try:
            if b"ccproxy.store.writerproc" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None


def stall(daemon: Daemon, seconds: float, stop: threading.Event) -> None:
    """Stop the writer process for `seconds`, one second into the burst."""
    import signal

    if stop.wait(1.0) or (pid := writer_pid(daemon)) is None:
        return
    os.kill(pid, signal.SIGSTOP)
    try:
        stop.wait(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"writer process {pid} was stopped for {seconds:.0f} s during the burst", flush=True)


def burst(args: argparse.Namespace, src: Path | None = None) -> None:
    print(f"-- {'baseline ' + str(src) if src else 'this tree'}", flush=True)
    fake = FakeProcess(answer_size=512)
    daemon = Daemon(fake.host, {"flows": {"retention": {"max_count": 10_000_000}}}, src=src)
    peak = {"rss": 0.0, "spill": 0, "queued": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            peak["rss"] = max(peak["rss"], daemon.rss_mb())
            stats = read_stats(daemon.dir / "flows.sqlite3") or {}
            peak["spill"] = max(peak["spill"], int(stats.get("spill_pending") or 0))
            peak["queued"] = max(peak["queued"], int(stats.get("queued") or 0))

    try:
        daemon.wait_healthy()
        body = json.dumps(agent_body(random.Random(1), args.body_kb * 1024)).encode()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        if args.stall_writer:
            threading.Thread(target=stall, args=(daemon, args.stall_writer, threading.Event()), daemon=True).start()
        t0 = time.monotonic()
        sent, failed = asyncio.run(_burst(daemon.url + "/v1/messages", body, args.concurrency, args.seconds))
        elapsed = time.monotonic() - t0
        print(f"burst: {sent} requests answered 200 in {elapsed:.1f} s ({sent / elapsed:.0f} req/s, "
              f"{args.concurrency} clients, {len(body) / 1024:.0f} KB bodies); {failed} failed", flush=True)
        store = daemon.dir / "flows.sqlite3"
        t1 = time.monotonic()
        wait_until(lambda: stored_count(store) >= sent or ((read_stats(store) or {}).get("lost") or 0)
                   + stored_count(store) >= sent, args.drain_timeout, "the writer to catch up")
        drained = time.monotonic() - t1
        stop.set()
        stats = read_stats(store) or {}
        stored = stored_count(store)
        print(f"stored: {stored} of {sent} sent ({sent - stored} missing); writer lost {stats.get('lost')} "
              f"(last cause: {(stats.get('last_loss') or {}).get('cause', '-')})")
        print(f"writer caught up {drained:.1f} s after the burst; peak backlog: {peak['queued']} queued in memory, "
              f"{peak['spill']} in the spill file; flows spilled in all: {stats.get('spilled')}")
        print(f"daemon peak RSS (daemon + writer, sampled every 0.5 s): {peak['rss']:.0f} MB")
    finally:
        stop.set()
        daemon.stop()
        fake.stop()


def fill(directory: Path, count: int) -> int:
    """`count` agent flows with request bodies of 39-483 KB; returns the bytes of request bodies."""
    rng = random.Random(7)
    total = 0
    now = time.time() - count
    with FlowStore(directory / "flows.sqlite3", create=True) as store:
        batch = []
        for i in range(count):
            body = agent_body(rng, rng.randint(39, 483) * 1024)
            total += len(json.dumps(body))
            batch.append(make_record(ts=now + i, body=body))
            if len(batch) == 50:
                store.put(batch)
                batch = []
        if batch:
            store.put(batch)
    return total


def dump(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="ccproxy-bench-dump-"))
    (directory / "ccproxy.yaml").write_text("ccproxy: {}\n")
    t0 = time.monotonic()
    body_bytes = fill(directory, args.flows)
    print(f"dump: {args.flows} synthetic agent flows written in {time.monotonic() - t0:.0f} s "
          f"({body_bytes / 1e6:.0f} MB of request bodies, store {os.path.getsize(directory / 'flows.sqlite3') / 1e6:.0f} MB)",
          flush=True)
    cmd = [sys.executable, "-m", "ccproxy.cli.main", "--config", str(directory), "flows", "dump"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    written = 0
    while chunk := proc.stdout.read(1 << 20):
        written += len(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(f"flows dump: {elapsed:.1f} s, {written / 1e6:.0f} MB of HAR ({written / 1e6 / elapsed:.0f} MB/s), "
          f"peak RSS {usage.ru_maxrss / 1024:.0f} MB (goal < 250 MB), exit {proc.returncode}")


def restart(args: argparse.Namespace) -> None:
    fake = FakeProcess(answer_size=512)
    daemon = Daemon(fake.host)
    daemon.wait_healthy()
    daemon.stop()  # the store is filled while no daemon runs
    t0 = time.monotonic()
    fill(daemon.dir, args.restart)
    print(f"restart: {args.restart} agent flows written in {time.monotonic() - t0:.0f} s", flush=True)
    again = daemon
    again.started = time.monotonic()
    again.proc = subprocess.Popen(
        [sys.executable, "-m", "ccproxy.cli.main", "--config", str(again.dir), "start", "--quiet"],
        env={**os.environ, **SECRETS}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        again.wait_healthy()
        want = min(args.restart, 500)

        def listed() -> bool:
            import urllib.request

            req = urllib.request.Request(f"http://127.0.0.1:{again.web_port}/flows",
                                         headers={"authorization": f"Bearer {again.token()}"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                return len(json.load(resp)) >= want

        wait_until(listed, 120, "the restored flows in mitmweb")
        time.sleep(2)  # idle: let the restore's garbage go
        print(f"restarted daemon with {want} restored flows in mitmweb: idle RSS {again.rss_mb():.0f} MB "
              "(daemon + writer)")
    finally:
        again.stop()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="burst length")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients in the burst")
    parser.add_argument("--body-kb", type=int, default=40, help="request body size in the burst")
    parser.add_argument("--stall-writer", type=float, default=0.0, metavar="S",
                        help="SIGSTOP the writer process for S seconds during the burst")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="bound on waiting for the writer")
    parser.add_argument("--flows", type=int, default=3000, help="synthetic agent flows for the dump")
    parser.add_argument("--restart", type=int, default=0, metavar="N",
                        help="also measure a restarted daemon's idle RSS over N stored agent flows")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--baseline", type=Path, help="burst again on another checkout's code (e.g. /work/main)")
    parser.add_argument("--skip-dump", action="store_true")
    args = parser.parse_args()
    if not args.skip_burst:
        burst(args)
        if args.baseline:
            burst(args, args.baseline)
    if not args.skip_dump:
        dump(args)
    if args.restart:
        restart(args)
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT} (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
