"""`ccproxy flows replay ID`: resend a recorded request (to another provider/model) and compare the answers.

Thin over `flows.resend`: the request goes through the running daemon, the new flows are recorded
with `.ccproxy.replay_of`, and the original and each replay are printed side by side. It spends
money, so it runs only when asked, never from a filter or a view.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from ccproxy.cli.common import library

WAIT_SECONDS = 30.0  # for the daemon's writer to store the replayed flows


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    sp = add("replay", "resend a recorded request through the running daemon (as the client sent it, or "
             "--to another PROVIDER[/MODEL]) and print the answers side by side; spends money", run_replay)
    sp.add_argument("id", help="flow id or unique prefix")
    sp.add_argument("--to", metavar="PROVIDER[/MODEL]",
                    help="send it with this provider's sentinel (translated if it speaks another wire format), "
                    "optionally with another model")
    sp.add_argument("--times", type=int, default=1, metavar="N", help="send it N times (default 1, at most 20)")
    sp.add_argument("--forwarded", action="store_true", help="resend what ccproxy forwarded, not what the client sent")
    sp.add_argument("--json", action="store_true", help="the comparison as JSON")


def run_replay(args: argparse.Namespace) -> int:
    from ccproxy.auth.sentinel import sentinel_for
    from ccproxy.daemon.state import read_state
    from ccproxy.errors import DaemonError, UsageError
    from ccproxy.flows.resend import plan, send

    if not 1 <= args.times <= 20:
        raise UsageError(f"--times must be between 1 and 20, got {args.times}")
    lib = library(args)
    original = lib.get_flow(args.id, args.jq)
    target = (args.to or "").partition("/")[0]
    if target and target not in lib.config.providers:
        raise UsageError(f"--to {args.to}: no provider {target!r} (known: {', '.join(sorted(lib.config.providers))})")
    state = read_state(lib.config_dir)
    if state is None or "proxy" not in state.listeners:
        raise DaemonError(f"no daemon runs for config dir {lib.config_dir}; start it with `ccproxy start` (a replay "
                          "goes through it)")
    resend = plan(original, sentinel_for, args.to, args.forwarded)
    link = f'map(select(.ccproxy.replay_of == "{original.id}"))'
    before = len(lib.ids([link]))
    for _ in range(args.times):
        send(state.listeners["proxy"].url, resend)
    deadline = time.monotonic() + WAIT_SECONDS
    ids = lib.ids([link])
    while len(ids) - before < args.times and time.monotonic() < deadline:  # the writer stores them shortly
        time.sleep(0.1)
        ids = lib.ids([link])
    replays = lib.load(ids[before:])
    rows = [summary(f, lib.config.prices) for f in [original, *replays]]
    if args.json:
        sys.stdout.write(json.dumps({"original": rows[0], "replays": rows[1:]}, indent=2) + "\n")
    else:
        print_side_by_side(rows)
    if len(replays) < args.times:
        print(f"ccproxy: {len(replays)} of {args.times} replayed flow(s) were stored within {WAIT_SECONDS:.0f}s; "
              "`ccproxy flows list` shows them when they are", file=sys.stderr)
        return 1
    return 0


def summary(flow: Any, prices: Any) -> dict[str, Any]:
    """What the comparison shows of one flow: the answer, usage, cost and timings."""
    from ccproxy.sessions.cost import answered_model, flow_cost

    ccp = flow.ccproxy
    answer = flow.answer("client") or flow.answer("upstream")
    cost = flow_cost(flow.doc, prices)
    return {
        "flow": flow.id, "provider": ccp.get("provider"), "model": answered_model(ccp),
        "status": (flow.doc.get("response") or {}).get("status_code"),
        "text": answer.text if answer else None,
        "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in answer.tool_calls] if answer else [],
        "stop_reason": ccp.get("stop_reason"), "usage": ccp.get("usage"),
        "cost": cost.to_json() if cost else None, "duration_ms": ccp.get("duration_ms"), "ttfb_ms": ccp.get("ttfb_ms"),
        "error": ccp.get("error"), "replay_of": ccp.get("replay_of"),
    }


def print_side_by_side(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from ccproxy.sessions.cost import usd_text

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    table = Table(show_header=True, header_style="bold", show_lines=True)
    table.add_column("")
    for i, row in enumerate(rows):
        table.add_column(f"{'original' if i == 0 else f'replay {i}'} {row['flow'][:8]}", overflow="fold")

    def ms(value: Any) -> str:
        return "-" if value is None else f"{float(value):.0f} ms"

    fields: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("provider / model", lambda r: f"{r['provider'] or '-'} / {r['model'] or '-'}"),
        ("status", lambda r: str(r["status"] or "-") + (f" {r['error']}" if r["error"] else "")),
        ("text", lambda r: (r["text"] or "")[:600] or "-"),
        ("tool calls", lambda r: "\n".join(f"{c['name']}({c['arguments'][:200]})" for c in r["tool_calls"]) or "-"),
        ("stop reason", lambda r: str(r["stop_reason"] or "-")),
        ("usage", lambda r: ", ".join(f"{k} {v}" for k, v in (r["usage"] or {}).items()) or "-"),
        ("cost", lambda r: usd_text((r["cost"] or {}).get("usd")) if r["cost"] else "-"),
        ("latency", lambda r: ms(r["duration_ms"])),
        ("first token", lambda r: ms(r["ttfb_ms"])),
    ]
    for name, show in fields:
        table.add_row(name, *(show(r) for r in rows))
    console.print(table)
