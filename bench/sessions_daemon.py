"""A long agent session through a real daemon, looked at live: the daemon's memory and the proxy's latency
while the session viewer polls and an MCP client lists conversations, this tree against a baseline.

Run: uv run python bench/sessions_daemon.py [--turns 200] [--baseline /work/main]

Per checkout (the baseline's own .venv runs its daemon): the fake provider in its own process, a
daemon, then one Claude Code-shaped session of N turns through the proxy (each turn re-sends the
conversation plus a ~10 KB tool result: 200 turns end at a ~2 MB request). Then: daemon RSS
(daemon + children: the store writer, the viewer's and MCP's workers) with nobody looking; the
viewer's `/ccproxy/api/data` cold; proxy p50 at c=1 idle, and while a thread polls the viewer every
second and another calls MCP `list_conversations` in a loop (idle and busy rounds alternate); the
RSS after that; and the
viewer's data after one new turn. Figures on a shared, loaded machine: compare the two columns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, Daemon, FakeProcess, LoadResult, load, wait_until

SMALL = {"model": "bench", "max_tokens": 64, "messages": [{"role": "user", "content": "bench"}]}
KEY = {"x-api-key": "sk-ant-oat-ccproxy-anthropic"}
ROUNDS = 4
WORDS = ["the", "store", "flow", "body", "chunk", "request", "agent", "turn", "message", "tool", "result", "file", "line", "code", "test", "value"]


def session(daemon: Daemon, turns: int, start: int = 0, messages: list[Any] | None = None) -> list[Any]:
    rng = random.Random(7)
    system = [{"type": "text", "text": " ".join(rng.choice(WORDS) for _ in range(2000)),
               "cache_control": {"type": "ephemeral"}}]
    messages = messages or [{"role": "user", "content": "refactor the flow store"}]
    with httpx.Client(timeout=60) as client:
        for i in range(start, start + turns):
            body = {"model": "bench", "max_tokens": 64, "system": system, "messages": messages,
                    "metadata": {"user_id": "user_x_account_y_session_5e55a000-0000-4000-8000-00000000000a"}}
            resp = client.post(daemon.url + "/v1/messages", headers=KEY, json=body)
            resp.raise_for_status()
            messages = [*messages, {"role": "assistant", "content": resp.json()["content"]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}",
                                                      "content": " ".join(rng.choice(WORDS) for _ in range(1800))}]}]
    return messages


def get(url: str, token: str) -> tuple[float, int]:
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        size = len(resp.read())
    return time.perf_counter() - start, size


def stored(daemon: Daemon) -> int:
    import sqlite3

    path = daemon.dir / "flows.sqlite3"
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return int(db.execute("SELECT count(*) FROM flows").fetchone()[0])
    finally:
        db.close()


def mcp_loop(daemon: Daemon, stop: threading.Event, calls: list[float], active: threading.Event) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    state = json.loads((daemon.dir / "ccproxy.state.json").read_text())
    url, token = state["listeners"]["mcp"]["url"], state["mcp_token"]

    async def run() -> None:
        async with (create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
                    Client(streamable_http_client(url, http_client=http), mode="legacy") as client):  # type: ignore[arg-type]
            while not stop.is_set():
                if not active.is_set():
                    await asyncio.sleep(0.05)
                    continue
                start = time.perf_counter()
                await client.call_tool("list_conversations", {"limit": 5, "max_chars": 20000})
                calls.append(time.perf_counter() - start)

    asyncio.run(run())


def poll_loop(url: str, token: str, stop: threading.Event, polls: list[float], active: threading.Event) -> None:
    while not stop.is_set():
        if active.is_set():
            polls.append(get(url, token)[0])
        stop.wait(1.0)


def measure(python: str, fake: FakeProcess, turns: int) -> dict[str, float]:
    daemon = Daemon(fake.host, python=python)
    out: dict[str, float] = {}
    try:
        daemon.wait_healthy()
        token = daemon.token() or ""
        data_url = f"http://127.0.0.1:{daemon.web_port}/ccproxy/api/data"
        messages = session(daemon, turns)
        wait_until(lambda: stored(daemon) >= turns, 300, "the session to be stored")
        time.sleep(1.0)  # the view trims/unloads on the next responses; let the writer settle
        out["last_request_mb"] = len(json.dumps(messages)) / 1e6
        out["rss_idle"] = daemon.rss_mb()
        out["data_cold_s"], size = get(data_url, token)
        out["data_kb"] = size / 1024
        out["rss_viewer"] = daemon.rss_mb()
        stop, active, polls, calls = threading.Event(), threading.Event(), [], []  # type: ignore[var-annotated]
        threads = [threading.Thread(target=poll_loop, args=(data_url, token, stop, polls, active)),
                   threading.Thread(target=mcp_loop, args=(daemon, stop, calls, active))]
        for t in threads:
            t.start()
        # Idle and busy rounds alternate, so a slow spell of the shared machine hits both alike.
        idle: list[float] = []
        busy: list[float] = []
        for _ in range(ROUNDS):
            active.clear()
            time.sleep(0.5)
            idle += load(daemon.url + "/v1/messages", KEY, SMALL, 1, 60, 15).latencies
            active.set()
            time.sleep(1.0)
            busy += load(daemon.url + "/v1/messages", KEY, SMALL, 1, 60, 15).latencies
        out["p50_idle"] = LoadResult(len(idle), 1, idle).pct(0.5)
        out["p50_busy"] = LoadResult(len(busy), 1, busy).pct(0.5)
        out["p99_busy"] = LoadResult(len(busy), 1, busy).pct(0.99)
        out["rss_busy"] = daemon.rss_mb()
        stop.set()
        for t in threads:
            t.join(120)
        out["mcp_calls"] = len(calls)
        out["mcp_call_s"] = sorted(calls)[len(calls) // 2] if calls else float("nan")
        loads = 2 * ROUNDS * (60 + 4)  # the rounds' loads, each after 4 warm-up requests
        wait_until(lambda: stored(daemon) >= turns + loads, 120, "the load's flows to be stored")
        session(daemon, 1, turns, messages)
        wait_until(lambda: stored(daemon) >= turns + loads + 1, 60, "the new turn to be stored")
        out["data_new_flow_s"], _ = get(data_url, token)
        out["rss_end"] = daemon.rss_mb()
    finally:
        daemon.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--baseline", default="/work/main")
    args = parser.parse_args()
    fake = FakeProcess(answer_size=512)
    try:
        results = {name: measure(py, fake, args.turns) for name, py in (
            ("old", str(Path(args.baseline) / ".venv" / "bin" / "python")),
            ("new", str(ROOT / ".venv" / "bin" / "python")))}
    finally:
        fake.stop()
    print("figures on a shared, loaded machine: compare the columns of one run")
    print(f"{'':<44} {'old':>10} {'new':>10}")
    rows = [("last request MB", "last_request_mb", 1), ("daemon RSS after the session, nobody looking MB", "rss_idle", 1),
            ("viewer data cold s", "data_cold_s", 1), ("viewer data KB", "data_kb", 1),
            ("daemon RSS, viewer opened MB", "rss_viewer", 1), ("proxy p50 c=1 idle ms", "p50_idle", 1),
            ("proxy p50 c=1, viewer polling + MCP loop ms", "p50_busy", 1), ("  p99 ms", "p99_busy", 1),
            ("  list_conversations median s", "mcp_call_s", 1), ("  list_conversations calls", "mcp_calls", 1),
            ("daemon RSS, viewer polling + MCP loop MB", "rss_busy", 1),
            ("viewer data after one new turn s", "data_new_flow_s", 1), ("daemon RSS at the end MB", "rss_end", 1)]
    for label, key, _ in rows:
        print(f"{label[:44]:<44} {results['old'][key]:>10.2f} {results['new'][key]:>10.2f}")
    for name in ("old", "new"):
        r = results[name]
        print(f"{name}: busy/idle p50 {r['p50_busy'] / r['p50_idle']:.2f}x")


if __name__ == "__main__":
    main()
