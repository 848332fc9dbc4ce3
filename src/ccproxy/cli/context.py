"""`ccproxy flows context [ID]`: where a request's input tokens go; thin over `ccproxy.sessions.context`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ccproxy.cli.common import library

BAR = 40


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    sp = add("context", "context anatomy of one request: tokens per system block, tool schemas by MCP server, "
             "memory files, history, tool results, images (estimated, calibrated to the provider's usage)", run_context)
    sp.add_argument("id", nargs="?", help="flow id or unique prefix (default: the newest flow in the set)")
    sp.add_argument("--growth", action="store_true", help="every turn of its conversation: which parts grew")
    sp.add_argument("--json", action="store_true", help="machine-readable breakdown")


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}%" if total else "    -"


def render(doc: dict[str, Any]) -> str:
    total = doc["total_tokens"]
    reported = f", provider reported {doc['reported_tokens']}" if doc["reported_tokens"] is not None else ""
    lines = [f"flow {doc['flow_id']}  {doc['format'] or '-'}  {doc['model'] or '-'}",
             f"~{total} input tokens ({doc['method']}{reported})"]
    for name, c in sorted(doc["categories"].items(), key=lambda kv: -kv[1]["tokens"]):
        bar = "#" * round(BAR * c["tokens"] / total) if total else ""
        lines.append(f"  {name:<13} {c['tokens']:>8} {_pct(c['tokens'], total)}  {bar}")
    if doc["tool_sources"]:
        lines.append("tool schemas by source: " + ", ".join(f"{k} {v}" for k, v in doc["tool_sources"].items()))
    if doc["largest_tool_results"]:
        lines.append("largest tool results: " + ", ".join(f"{p['name']} {p['tokens']}" for p in doc["largest_tool_results"]))
    memory = [p for p in doc["parts"] if p["category"] == "memory"]
    if memory:
        lines.append("memory files: " + ", ".join(f"{p['name']} {p['tokens']}" for p in memory))
    for i, turn in enumerate(doc.get("growth") or []):
        grew = ", ".join(f"{k} {v:+d}" for k, v in turn["grew"].items())
        lines.append(f"  turn {i + 1} {str(turn['flow_id'])[:8]} ~{turn['total_tokens']}: {grew or 'no change'}")
    return "\n".join(lines) + "\n"


def run_context(args: argparse.Namespace) -> int:
    from ccproxy.sessions.context import context_report

    lib = library(args)
    if not args.id and lib.latest(args.jq) is None:  # an empty set is an answer: exit 0, why on stderr
        print(f"ccproxy: {lib.empty_reason(args.jq)}", file=sys.stderr)
        return 0
    doc = context_report(lib, args.id, args.jq, args.growth)
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if args.json else render(doc))
    return 0
