"""Replay a recorded request and compare: the original and each replay as rows (`flows replay`, MCP `replay_flow`).

The resend itself is `flows.resend`; this waits for the daemon to store the new flows (linked by
`.ccproxy.replay_of`) and reads each one's answer, usage, cost and timings the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ccproxy.flows.library import FlowLibrary
from ccproxy.flows.resend import plan, send
from ccproxy.sessions.cost import Price, answered_model, flow_cost
from ccproxy.store.stored_flow import StoredFlow

WAIT_SECONDS = 30.0  # for the daemon's writer to store the replayed flows
MAX_TIMES = 20


def replay_and_compare(library: FlowLibrary, flow_id: str, proxy_url: str, sentinel_for: Callable[[str], str],
                       to: str | None = None, times: int = 1, forwarded: bool = False,
                       jq: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """`{original, replays, missing}`: `missing` counts replays sent but not stored within WAIT_SECONDS."""
    from ccproxy.errors import UsageError

    if not 1 <= times <= MAX_TIMES:
        raise UsageError(f"times must be between 1 and {MAX_TIMES}, got {times}")
    target = (to or "").partition("/")[0]
    if target and target not in library.config.providers:
        raise UsageError(f"to {to!r}: no provider {target!r} (known: {', '.join(sorted(library.config.providers))})")
    original = library.get_flow(flow_id, jq)
    resend = plan(original, sentinel_for, to, forwarded)
    link = f'map(select(.ccproxy.replay_of == "{original.id}"))'
    before = len(library.ids([link]))
    for _ in range(times):
        send(proxy_url, resend)
    deadline = time.monotonic() + WAIT_SECONDS
    ids = library.ids([link])
    while len(ids) - before < times and time.monotonic() < deadline:  # the writer stores them shortly
        time.sleep(0.1)
        ids = library.ids([link])
    replays = library.load(ids[before:])
    prices = library.config.prices
    return {"original": summary(original, prices), "replays": [summary(f, prices) for f in replays],
            "missing": max(0, times - len(replays))}


def summary(flow: StoredFlow, prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """What a comparison shows of one flow: the answer, usage, cost and timings."""
    ccp = flow.ccproxy
    answer = flow.answer("client") or flow.answer("upstream")
    cost = flow_cost(flow.doc, prices)
    return {
        "flow": flow.id, "provider": ccp.get("provider"), "model": answered_model(ccp),
        "status": (flow.doc.get("response") or {}).get("status_code"),
        "text": answer.text if answer else None,
        "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in answer.tool_calls] if answer else [],
        "stop_reason": ccp.get("stop_reason"), "usage": ccp.get("usage"),
        "cost": cost.to_json() if cost else None, "duration_ms": ccp.get("duration_ms"),
        "ttfb_ms": ccp.get("ttfb_ms"), "error": ccp.get("error"), "replay_of": ccp.get("replay_of"),
    }
