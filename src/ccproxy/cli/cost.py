"""`ccproxy flows cost`: what the set cost, summed per model, session, day or flow (thin over `sessions.spend`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ccproxy.cli.common import library


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    sp = add("cost", "what the set cost in USD, summed --by model (the model that answered), session, day or flow; "
             "models the price table and `prices:` do not know are counted as unknown, never guessed", run_cost)
    sp.add_argument("--by", choices=("model", "session", "day", "flow"), default="model", help="group rows by")
    sp.add_argument("--json", action="store_true", help="machine-readable sums")


def run_cost(args: argparse.Namespace) -> int:
    from ccproxy.sessions.cost import table_version
    from ccproxy.sessions.spend import label, spend

    lib = library(args)
    docs = lib.docs(args.jq)
    if not docs:
        print(f"ccproxy: {lib.empty_reason(args.jq)}", file=sys.stderr)
    report = spend(docs, args.by, lib.config.prices)
    report["prices"] = {"table": f"genai-prices {table_version()}", "configured": sorted(lib.config.prices)}
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    table = Table(show_header=True, header_style="bold")
    for col in (args.by, "flows", "input", "output", "cache read", "cache write", "cost"):
        table.add_column(col, justify="left" if col == args.by else "right")
    for row in report["rows"]:
        u = row["usage"]
        table.add_row(row["key"] if args.by != "flow" else row["key"][:8], str(row["flows"]),
                      *(str(u.get(k, 0)) for k in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                                                   "cache_creation_input_tokens")), label(row))
    console.print(table)
    t = report["total"]
    unknown = f"; no price for {t['unknown']} flow(s): {', '.join(t['unpriced_models'])}" if t["unknown"] else ""
    console.print(f"total {label(t)} over {t['flows']} flow(s) ({report['prices']['table']}{unknown})")
    return 0
