"""`ccproxy flows replay ID`: resend a recorded request (to another provider/model) and compare the answers.

Thin over `flows.resend`: the request goes through the running daemon, the new flows are recorded
with `.ccproxy.replay_of`, and the original and each replay are printed side by side. It spends
money, so it runs only when asked, never from a filter or a view.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ccproxy.cli.common import library


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
    from ccproxy.errors import DaemonError
    from ccproxy.sessions.replays import WAIT_SECONDS, replay_and_compare

    lib = library(args)
    state = read_state(lib.config_dir)
    if state is None or "proxy" not in state.listeners:
        raise DaemonError(f"no daemon runs for config dir {lib.config_dir}; start it with `ccproxy start` (a replay "
                          "goes through it)")
    result = replay_and_compare(lib, args.id, state.listeners["proxy"].url, sentinel_for, args.to, args.times,
                                args.forwarded, args.jq)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        print_side_by_side([result["original"], *result["replays"]])
    if result["missing"]:
        print(f"ccproxy: {result['missing']} of {args.times} replayed flow(s) were not stored within "
              f"{WAIT_SECONDS:.0f}s; `ccproxy flows list` shows them when they are", file=sys.stderr)
        return 1
    return 0


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
