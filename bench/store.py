"""The flow store under an agent: one long session that re-sends its conversation every turn, then many.

Run: uv run python bench/store.py [--turns 300] [--sessions 10] [--keep 1000] [--no-v1]
1. One session (`tests/sessions/session.py`: requests growing from ~39 KB to ~483 KB, streamed answers)
   written one flow per transaction, as the writer process does when an agent is the only client;
   every 50 turns: store size, bytes per flow, the distinct content it holds (distinct message,
   system and tool blocks + answer bodies) and the ratio; then the CPU time per flow write and the
   read times. Each flow is also written to a schema-1 store (the layout before the blob table,
   `tests/store/v1store.py`), interleaved, for the "before" figures under the same load.
2. `--sessions` sessions into one store (3,000 flows), retention down to `--keep` flows, and the file
   size before and after (the schema-1 store never shrank); then the one-time upgrade of the
   schema-1 store.
3. Short SDK-style flows in batches, where there is little to share: write cost per flow.
4. `--small-session N [--baseline CHECKOUT]`: instead of 1-3, one agent session of N turns of small
   messages (~1.7 KB each, like tool-call turns) through the real writer process, one flow at a time:
   bytes on disk while running (store + WAL + journal, sampled every 50 turns) and at rest (after the
   writer stopped) against the last request's size (goal: <= 1.5x at rest). With --baseline, the same
   run on another checkout's code (e.g. /work/main) side by side.
No assertions: figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from common import ROOT
from tests.sessions.session import Turn, session
from tests.store.factory import make_record
from tests.store.v1store import V1Store

from ccproxy.store import db as store_module
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord

MB = 1e6


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def checkpointed(db: Any, path: Path) -> int:
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return file_bytes(path)


def cpu_ms(fn: Callable[[], Any]) -> tuple[float, float]:
    """(CPU, wall) milliseconds of one call; SQLite runs in this process, so CPU includes it."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return (time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000


def blocks(body: dict[str, Any]) -> Iterator[bytes]:
    for key in ("system", "tools", "messages"):
        for item in body.get(key) or []:
            yield json.dumps(item).encode()


def one_session(turns: int, with_v1: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="ccproxy-bench-store-"))
    path, v1_path = work / "flows.sqlite3", work / "v1.sqlite3"
    store = FlowStore(path, create=True)
    v1 = V1Store(v1_path) if with_v1 else None
    distinct: set[bytes] = set()
    answers = 0
    write_new: list[float] = []
    write_v1: list[float] = []
    kept: list[Turn] = []
    print(f"one session, {turns} turns, one flow per write transaction")
    print(f"{'turns':>5} {'request':>9} {'store':>9} {'bytes/flow':>10} {'distinct+answers':>16} {'ratio':>6}"
          f" {'schema-1 store':>14}")
    for i, turn in enumerate(session(turns), 1):
        kept.append(turn)
        distinct.update(blocks(turn.body))
        answers += len(turn.answer)
        batch = [turn.record]
        if v1 is not None and i % 2:  # alternate which store writes first
            write_v1.append(cpu_ms(partial(v1.put, batch))[0])
        write_new.append(cpu_ms(partial(store.put, batch))[0])
        if v1 is not None and not i % 2:
            write_v1.append(cpu_ms(partial(v1.put, batch))[0])
        if i % 50 == 0 or i == turns:
            size = checkpointed(store.db, path)
            content = sum(map(len, distinct)) + answers
            old = f"{checkpointed(v1.db, v1_path) / MB:11.1f} MB" if v1 is not None else "-"
            print(f"{i:>5} {len(turn.record.parts['client_request']) / 1000:7.0f} KB {size / MB:6.2f} MB"
                  f" {size / i / 1000:7.1f} KB {content / MB:13.2f} MB {size / content:6.2f} {old:>14}")
    stats = store.file_stats()
    docs = store.db.execute("SELECT sum(length(doc)) FROM flows").fetchone()[0]
    print(f"in the store: {stats['blobs']} blobs holding {stats['blob_bytes'] / MB:.2f} MB (compressed); flow docs "
          f"(the JSON jq sees) {docs / MB:.2f} MB; distinct blocks {sum(map(len, distinct)) / MB:.2f} MB, "
          f"answer bodies {answers / MB:.2f} MB")
    last = slice(-50, None)
    line = (f"write, CPU ms per flow (median): all turns {statistics.median(write_new):.2f}, last 50 turns "
            f"{statistics.median(write_new[last]):.2f}")
    if write_v1:
        line += (f";  schema 1: all {statistics.median(write_v1):.2f}, last 50 "
                 f"{statistics.median(write_v1[last]):.2f}")
    print(line)
    reads(path, kept, v1_path if v1 is not None else None)
    store.close()
    if v1 is not None:
        v1.close()


def reads(path: Path, turns: list[Turn], v1_path: Path | None) -> None:
    with FlowStore(path) as store:
        docs = statistics.median(cpu_ms(store.docs_bytes)[1] for _ in range(5))
    with FlowStore(path) as store:  # a fresh connection: `flows show` of the last, biggest flow
        cold = cpu_ms(lambda: store.parts(turns[-1].record.id))[1]
    with FlowStore(path) as store:
        every = cpu_ms(lambda: [store.parts(t.record.id) for t in turns])[1]
    line = (f"read, wall ms: docs_bytes() {docs:.1f}; parts() of the last flow, fresh connection {cold:.1f}; "
            f"parts() of all {len(turns)} flows in order {every:.0f} ({every / len(turns):.2f} per flow)")
    if v1_path is not None:
        v1 = V1Store(v1_path)
        v1_cold = cpu_ms(lambda: v1.parts(turns[-1].record.id))[1]
        v1_every = cpu_ms(lambda: [v1.parts(t.record.id) for t in turns])[1]
        v1.close()
        line += f";  schema 1: last flow {v1_cold:.1f}, all {v1_every:.0f} ({v1_every / len(turns):.2f} per flow)"
    print(line)


def many_sessions(count: int, turns: int, keep: int, with_v1: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="ccproxy-bench-store-"))
    path, v1_path = work / "flows.sqlite3", work / "v1.sqlite3"
    store = FlowStore(path, create=True)
    v1 = V1Store(v1_path) if with_v1 else None
    spent = 0.0
    for n in range(count):
        for turn in session(turns, seed=100 + n, ts=1_700_000_000.0 + n * turns * 30.0):
            spent += cpu_ms(partial(store.put, [turn.record]))[0]
            if v1 is not None:
                v1.put([turn.record])
    flows = store.count()
    size = checkpointed(store.db, path)
    print(f"\n{count} sessions x {turns} turns = {flows} flows in one store: {size / MB:.1f} MB "
          f"({size / flows / 1000:.1f} KB/flow), written in {spent / 1000:.1f} s CPU ({spent / flows:.2f} ms/flow)")
    docs = statistics.median(cpu_ms(store.docs_bytes)[0] for _ in range(5))
    line = f"docs_bytes() over {flows} flows (compressed docs): {docs:.0f} ms CPU"
    if v1 is not None:  # schema 1 kept docs as plain text: `flows list --json` only concatenated them
        query = "SELECT CAST(doc AS BLOB) FROM flows ORDER BY ts, id"
        plain = statistics.median(cpu_ms(lambda: b",\n".join(r[0] for r in v1.db.execute(query)))[0]
                                  for _ in range(5))
        line += f";  schema 1 (plain text docs): {plain:.0f} ms"
    print(line)
    # As the writer runs it, in two timed pieces: the prune transaction (deletes, released chunks),
    # then the free pages handed back in steps of RECLAIM_STEP pages, each its own short transaction.
    budget, store_module.RECLAIM_BUDGET = store_module.RECLAIM_BUDGET, 0
    t_prune = cpu_ms(lambda: store.apply_retention(keep, 36500, now=2_000_000_000.0))[1]
    store_module.RECLAIM_BUDGET = budget
    free = store.file_stats()["freelist_count"]
    t_reclaim = cpu_ms(lambda: store.reclaim(budget))[1]
    steps = -(-max(0, free - store_module.RECLAIM_SLACK) // store_module.RECLAIM_STEP)
    removed = flows - store.count()
    after = checkpointed(store.db, path)
    print(f"retention to {keep} flows: removed {removed}; prune transaction {t_prune:.0f} ms, then "
          f"{free * 4096 / MB:.1f} MB of free pages handed back in {steps} steps, {t_reclaim:.0f} ms in all "
          f"({t_reclaim / max(steps, 1):.0f} ms a step); file {size / MB:.1f} MB -> {after / MB:.1f} MB")
    store.close()
    if v1 is None:
        return
    v1_size = checkpointed(v1.db, v1_path)
    v1.apply_retention(keep)
    v1_after = checkpointed(v1.db, v1_path)
    print(f"schema 1, same flows: {v1_size / MB:.1f} MB ({v1_size / flows / 1000:.1f} KB/flow); "
          f"retention to {keep}: {v1_size / MB:.1f} MB -> {v1_after / MB:.1f} MB")
    v1.close()
    wall = cpu_ms(lambda: FlowStore(v1_path).close())[1]
    print(f"one-time upgrade of that schema-1 store ({keep} flows, {v1_after / MB:.1f} MB) on first open: "
          f"{wall / 1000:.1f} s, {file_bytes(v1_path) / MB:.1f} MB after")


def write_batches(target: FlowStore | V1Store, records: list[FlowRecord]) -> None:
    for k in range(0, len(records), 500):
        target.put(records[k : k + 500])


def small_flows(count: int = 3000) -> None:
    """Short SDK-style flows (4 KB bodies, a 20-message window) written 500 per transaction, as
    `bench/flows.py` fills its store: the per-flow cost the blob table adds where there is little to share."""
    history: list[dict[str, str]] = [{"role": "user", "content": "Refactor the flow store for speed."}]
    records = []
    for i in range(count):
        history = [*history[-20:], {"role": "assistant", "content": f"step {i} " * 20},
                   {"role": "user", "content": f"continue {i}"}]
        body = {"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": "You are a careful engineer. " * 30,
                "messages": history}
        answer = {"type": "message", "content": [{"type": "text", "text": "ok " * 200}],
                  "usage": {"input_tokens": 1200 + i, "output_tokens": 150}}
        records.append(make_record(ts=1_700_000_000.0 + i, body=body, response_body=json.dumps(answer).encode()))
    work = Path(tempfile.mkdtemp(prefix="ccproxy-bench-store-"))
    results: dict[str, list[float]] = {"blob table": [], "schema 1": []}
    sizes: dict[str, int] = {}
    for rnd in range(3):  # alternate, so both see the same load
        for name in results:
            path = work / f"{name.replace(' ', '-')}-{rnd}.sqlite3"
            target: FlowStore | V1Store = FlowStore(path, create=True) if name == "blob table" else V1Store(path)
            results[name].append(cpu_ms(partial(write_batches, target, records))[0] / count)
            sizes[name] = checkpointed(target.db, path)
            target.close()
    print(f"\n{count} short flows (~4 KB bodies) in batches of 500, CPU ms per flow (median of 3): " + ", ".join(
        f"{name} {statistics.median(ms):.3f} ({sizes[name] / MB:.1f} MB)" for name, ms in results.items()))


def small_session_run(turns: int) -> None:
    """In this interpreter's ccproxy (PYTHONPATH picks the checkout): print one JSON line of figures."""
    import random

    from ccproxy.store.writer import StoreWriter

    rng = random.Random(3)
    words = ["the", "tool", "returned", "a", "diff", "of", "file", "src/app.py", "line", "42", "error", "test"]
    messages: list[dict[str, Any]] = []
    running: list[float] = []
    last = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.sqlite3"
        writer = StoreWriter(path, max_count=100_000, max_age_days=3650).start()
        for turn in range(turns):
            text = " ".join(rng.choice(words) for _ in range(280))  # ~1.7 KB
            messages.append({"role": "user" if turn % 2 == 0 else "assistant", "content": text})
            body = {"model": "claude-bench", "max_tokens": 1024, "system": "You are a coding agent.",
                    "messages": list(messages)}
            last = len(json.dumps(body).encode())
            writer.submit(make_record(ts=1_700_000_000.0 + turn, body=body))
            writer.flush(60)
            if (turn + 1) % 50 == 0:
                running.append(file_bytes(path) / last)
        writer.close(60)
        rest = file_bytes(path)
    print(json.dumps({"last_request": last, "at_rest": rest, "rest_ratio": rest / last,
                      "running_max_ratio": max(running), "running": running}))


def small_session(turns: int, baseline: Path | None) -> None:
    import subprocess
    import sys

    trees = {"this tree": ROOT, **({"baseline": baseline} if baseline else {})}
    for name, src in trees.items():
        env = {**os.environ, "PYTHONPATH": str(src / "src")}
        out = subprocess.run([sys.executable, __file__, "--small-session-run", str(turns)], env=env, check=True,
                             capture_output=True, text=True).stdout
        doc = json.loads(out.strip().splitlines()[-1])
        print(f"{name}: {turns}-turn session of ~1.7 KB messages, last request {doc['last_request'] / 1024:.0f} KB; "
              f"at rest {doc['at_rest'] / 1024:.0f} KB = {doc['rest_ratio']:.2f}x; while running up to "
              f"{doc['running_max_ratio']:.2f}x (every 50 turns: {', '.join(f'{r:.2f}' for r in doc['running'])})",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="turns per session")
    parser.add_argument("--sessions", type=int, default=10, help="sessions in part 2")
    parser.add_argument("--keep", type=int, default=1000, help="flows kept by retention in part 2")
    parser.add_argument("--no-v1", action="store_true", help="skip the schema-1 comparison")
    parser.add_argument("--small-session", type=int, metavar="TURNS", help="only part 4, this many turns")
    parser.add_argument("--small-session-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help="part 4: another checkout side by side (e.g. /work/main)")
    args = parser.parse_args()
    if args.small_session_run:
        small_session_run(args.small_session_run)
        return
    if args.small_session:
        small_session(args.small_session, args.baseline)
        return
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    one_session(args.turns, not args.no_v1)
    many_sessions(args.sessions, args.turns, args.keep, not args.no_v1)
    small_flows()
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {ROOT}")


if __name__ == "__main__":
    main()
