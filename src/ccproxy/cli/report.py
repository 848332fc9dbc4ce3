"""`ccproxy flows report SESSION [--fail-over metric=N ...]`: a session's waste report; thin over
`ccproxy.sessions.waste`. Exit 1 when a threshold is passed, so CI can gate an agent run on it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ccproxy.cli.common import library


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    from ccproxy.sessions.waste import METRICS

    sp = add("report", "a session's waste: the most expensive turns, repeated reads, retries, tool failures, "
             "cache misses and their tokens; --fail-over gates CI on them (exit 1)", run_report)
    sp.add_argument("session", help="session id or a unique prefix (`ccproxy flows tree` lists them)")
    sp.add_argument("--fail-over", action="append", default=[], metavar="METRIC=N",
                    help="exit 1 when METRIC exceeds N (repeatable); metrics: " + ", ".join(METRICS))
    sp.add_argument("--json", action="store_true", help="machine-readable report")


def render(doc: dict[str, Any]) -> str:
    m = doc["metrics"]
    lines = [f"session {doc['session_id']}: {m['turns']} turn(s), {m['tokens']} tokens "
             f"({m['weighted']} input-equivalent: cache read 0.1, cache write 1.25, output 5)"]
    lines.append("most expensive turns:")
    lines += [f"  {t['flow_id'][:8]} {t['kind']:<8} ~{t['weighted']} weighted  {json.dumps(t['usage'])}"
              + (f"  → {', '.join(t['tool_uses'])}" if t["tool_uses"] else "") for t in doc["expensive_turns"]]
    lines.append(f"repeated tool calls: {m['repeated_calls']}; results sent again: {m['repeated_results']} "
                 f"(~{m['repeated_tokens']} tokens)")
    lines += [f"  {c['times']}x {c['call']}" for c in doc["repeated_calls"]]
    lines.append(f"retries: {m['retries']}; errors: {m['errors']}; tool failures: {m['tool_failures']}")
    lines += [f"  {e['flow_id'][:8]} {e['status']} {e['error'] or ''}".rstrip() for e in doc["errors"]]
    lines.append(f"cache misses: {m['cache_misses']} (~{m['cache_miss_tokens']} tokens written again)")
    lines += [f"  {c['flow_id'][:8]} {c['cause']}: {c['detail']}" for c in doc["cache_misses"]]
    return "\n".join(lines) + "\n"


def run_report(args: argparse.Namespace) -> int:
    from ccproxy.sessions.waste import over, parse_thresholds, session_report

    thresholds = parse_thresholds(args.fail_over)
    doc = session_report(library(args), args.session, args.jq)
    failed = over(doc["metrics"], thresholds)
    doc["failed"] = failed
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if args.json else render(doc))
    for line in failed if not args.json else []:
        sys.stderr.write(f"over threshold: {line}\n")
    return 1 if failed else 0
