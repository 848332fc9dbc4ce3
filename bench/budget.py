"""What the issue-27 analyses cost on an agent-sized request (run on the proxy's loop or per flow).

Run: uv run python bench/budget.py [--turns 200] [--result-kb 4] [--repeat 20]
Builds one Anthropic request of --turns tool round trips (each result --result-kb of text: a
~200k-token context at the defaults) and times, side by side in the same run:
  baseline   json.loads of the body (what any hook that reads the body pays)
  loop_guard the whole opt-in hook (parse + history + find_loops)
  context    the context breakdown (parse + parts + calibration)
  quota      parse_quota of one answer's rate-limit headers
Prints the median ms of each and its ratio to the baseline. Figures from a shared machine are noisy:
compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.hooks import loop_guard as guard
from ccproxy.pipeline.context import HookContext
from ccproxy.sessions.context import breakdown
from ccproxy.sessions.quota import parse_quota

HEADERS = [("anthropic-ratelimit-unified-status", "allowed"), ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
           ("anthropic-ratelimit-unified-5h-reset", "1800003600"), ("anthropic-ratelimit-unified-7d-utilization", "0.3"),
           ("anthropic-ratelimit-unified-7d-reset", "1800600000"), ("content-type", "application/json")] + [
           (f"x-other-{i}", "v") for i in range(20)]


def body(turns: int, result_kb: int) -> dict[str, Any]:
    messages: list[Any] = [{"role": "user", "content": "fix the parser"}]
    text = ("the agent reads the file again before it edits the function " * 20)[:1024] * result_kb
    for i in range(turns):
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": f"Reading part {i}."},
            {"type": "tool_use", "id": f"t{i}", "name": "Read", "input": {"path": f"src/m{i % 17}.py"}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": text}]})
    return {"model": "claude-x", "max_tokens": 1000, "system": "You are a coding agent. " * 400,
            "tools": [{"name": f"mcp__srv__t{i}", "input_schema": {"type": "object"}} for i in range(40)],
            "messages": messages}


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--result-kb", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    doc = body(args.turns, args.result_kb)
    raw = json.dumps(doc).encode()
    flow = tflow.tflow()
    flow.request.path = "/v1/messages"
    flow.request.content = raw

    def hook() -> None:
        guard.loop_guard(HookContext(flow=flow, config=CCProxyConfig(), params=guard.Params()))

    rows = {
        "baseline": median_ms(lambda: json.loads(raw), args.repeat),
        "loop_guard": median_ms(hook, args.repeat),
        "context": median_ms(lambda: breakdown(json.loads(raw), {"input_tokens": len(raw) // 4}), args.repeat),
        "quota": median_ms(lambda: parse_quota(HEADERS, 0.0), args.repeat),
    }
    print(f"request body: {len(raw) / 1e6:.2f} MB, ~{len(raw) // 4} tokens, {args.turns} tool round trips")
    for name, ms in rows.items():
        print(f"{name:<11} {ms:9.3f} ms   x{ms / rows['baseline']:.2f} of baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
