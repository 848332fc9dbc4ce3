"""`ccproxy flows quota` and the quota lines of `ccproxy status`: subscription windows per credential.

Thin over `ccproxy.sessions.quota`: the rate-limit headers every stored answer carried, folded into
"per cent used now, when it resets, and who spent it".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ccproxy.cli.common import library

#: `ccproxy status` reads only this many newest flows for its quota lines (a cheap index scan).
STATUS_FLOWS = 200


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    sp = add("quota", "subscription windows and rate limits per credential: utilisation, reset, "
             "consumption per session and model (from the providers' rate-limit headers)", run_quota)
    sp.add_argument("--json", action="store_true", help="machine-readable report")


def _until(ts: float | None, now: float) -> str:
    if not ts:
        return "reset -"
    left = max(0, int(ts - now))
    when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"resets {when} (in {left // 3600}h{left % 3600 // 60:02d}m)"


def window_line(name: str, w: dict[str, Any], now: float) -> str:
    used = f"{w['utilization']:5.1f}% used" if w.get("utilization") is not None else "  -   used"
    counts = f" ({w['remaining']}/{w['limit']} left)" if w.get("limit") is not None else ""
    return f"  {name:<14} {used}{counts}  {_until(w.get('reset'), now)}  {w.get('status') or ''}".rstrip()


def _shares(label: str, table: dict[str, Any]) -> str:
    parts = sorted(table.items(), key=lambda kv: -kv[1]["points"])
    text = "; ".join(f"{k}: +{v['points']:g} pts, {v['tokens']} tokens, {v['flows']} flow(s)" for k, v in parts[:5])
    more = f"; +{len(parts) - 5} more" if len(parts) > 5 else ""
    return f"      {label}: {text}{more}"


def render(report: list[dict[str, Any]], detail: bool = True) -> str:
    now = time.time()
    lines: list[str] = []
    for cred in report:
        rejected = f", {cred['rejected']} rejected (429)" if cred["rejected"] else ""
        lines.append(f"credential {cred['credential']} ({cred['kind']}) status {cred['status'] or '-'}"
                     f" · {cred['flows']} flow(s){rejected}")
        for name, w in cred["windows"].items():
            lines.append(window_line(name, w, now))
            if detail and w.get("by_session"):
                lines.append(_shares("by session", w["by_session"]))
                lines.append(_shares("by model", w["by_model"]))
    return "\n".join(lines) + ("\n" if lines else "")


def run_quota(args: argparse.Namespace) -> int:
    from ccproxy.sessions.quota import quota_of_docs

    report = quota_of_docs(library(args).docs(args.jq))
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    elif not report:
        print("no flow in the set carried rate-limit headers")
    else:
        sys.stdout.write(render(report))
    return 0


def status_quota(config: Any, directory: Any) -> list[dict[str, Any]]:
    """The quota per credential over the newest stored flows (for `ccproxy status`); [] when none."""
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.sessions.quota import quota_of_docs

    _, docs = FlowLibrary(config, directory).newest(limit=STATUS_FLOWS)
    return quota_of_docs(docs)
