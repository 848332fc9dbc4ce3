"""MCP tools over a big flow store: how long each call takes and how long it stalls the daemon's event loop.

Run: uv run python bench/mcp_tools.py [--flows N]
Fills a store with N realistic flows (bench/flows.py's records), builds the daemon's MCP server and
calls each flow tool the way a client's request does, while a heartbeat task on the same event loop
records the longest gap between its 5 ms ticks: that gap is how long a proxied request would wait.
Also prints each answer's size (answers are capped, see mcp/paging.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ccproxy.config.loader import load_config
from ccproxy.mcp.server import build_server
from ccproxy.mcp.status import DaemonFacts
from ccproxy.store.db import FlowStore
from flows import fill


async def heartbeat(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last - 0.005)
        last = now


async def measure(server: Any, tool: str, args: dict[str, Any]) -> tuple[float, float, int]:
    gaps: list[float] = []
    stop = asyncio.Event()
    beat = asyncio.create_task(heartbeat(gaps, stop))
    await asyncio.sleep(0.02)
    t0 = time.perf_counter()
    result = await server.call_tool(tool, args)
    took = time.perf_counter() - t0
    stop.set()
    await beat
    blocks = getattr(result, "content", None) or []
    size = sum(len(getattr(b, "text", "").encode()) for b in blocks)
    return took * 1000, max(gaps, default=0.0) * 1000, size


async def main(count: int) -> None:
    cfg = Path(tempfile.mkdtemp(prefix="ccproxy-bench-mcp-"))
    (cfg / "ccproxy.yaml").write_text("ccproxy:\n  flows:\n    retention:\n      max_count: 1000000\n"
                                      "      max_age_days: 36500\n")
    seconds = fill(cfg / "flows.sqlite3", count)
    print(f"filled {count} flows in {seconds:.1f} s")
    with FlowStore(cfg / "flows.sqlite3") as store:
        some_id = store.ids()[count // 2]
    config = load_config(cfg)
    server = build_server(DaemonFacts(config, cfg, time.time(), lambda: {}))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_flows", {}),
        ("list_flows", {"jq": "map(select(.response.status_code >= 400))", "limit": 1000}),
        ("get_flow", {"id": some_id}),
        ("get_request_body", {"id": some_id}),
        ("compare_flows", {"id": some_id}),
        ("diff_flows", {"jq": ".[-20:]"}),
        ("list_conversations", {}),
        ("status", {}),
    ]
    print(f"{'tool':<20} {'args':<52} {'call ms':>8} {'loop stall ms':>14} {'answer bytes':>13}")
    for tool, args in calls:
        took, stall, size = await measure(server, tool, args)
        print(f"{tool:<20} {json.dumps(args)[:52]:<52} {took:8.0f} {stall:14.1f} {size:13d}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=4000)
    asyncio.run(main(parser.parse_args().flows))
