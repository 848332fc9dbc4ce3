"""The session views at scale: one long agent conversation (a Claude Code-sized system prompt, a history
that grows by two messages a turn), read as a tree, and rebuilt the way the live viewer does.

Run: uv run python bench/sessions.py [--turns N]
Prints: `flows tree` over the store, the viewer's light blob built cold, and rebuilt after one new flow
(the live page polls every 3 s; a rebuild reuses every stored flow's parsed facts through a Memo).
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import load  # noqa: F401  (puts the repo root on sys.path)
from tests.store.factory import make_record

from ccproxy.sessions.tree import Memo, build_tree
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.viewer.data import viewer_data


def conversation(turns: int) -> list[StoredFlow]:
    system = [{"type": "text", "text": "You are an agent. " * 1200, "cache_control": {"type": "ephemeral"}}]
    tools = [{"name": f"tool{i}", "description": "d" * 400, "input_schema": {"type": "object"}} for i in range(20)]
    messages: list[dict[str, object]] = []
    flows = []
    for i in range(turns):
        messages = [*messages, {"role": "user", "content": [{"type": "text", "text": f"step {i} " + "x" * 500}]}]
        rec = make_record(fid=f"{i:08x}-0000-4000-8000-000000000000", ts=1000.0 + 5 * i,
                          body={"model": "claude-x", "system": system, "tools": tools, "messages": messages})
        flows.append(StoredFlow(rec.doc, rec.parts))
        messages = [*messages, {"role": "assistant", "content": [{"type": "text", "text": "ok " * 100}]}]
    return flows


def timed(fn: object, *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    flows = conversation(args.turns)
    print(f"{args.turns} turns, last request {len(flows[-1].parts['request']) / 1e6:.1f} MB")
    print(f"build_tree: {statistics.median(timed(build_tree, flows) for _ in range(3)):.0f} ms (median of 3)")
    print(f"viewer blob, cold: {timed(viewer_data, flows, details=False):.0f} ms")
    memo = Memo()
    viewer_data(flows[:-1], details=False, memo=memo)
    warm = [timed(viewer_data, flows, details=False, memo=memo) for _ in range(3)]
    print(f"viewer blob, rebuilt after one new flow: {statistics.median(warm):.0f} ms (median of 3)")


if __name__ == "__main__":
    main()
