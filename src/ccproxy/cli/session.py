"""`ccproxy flows tree|cache|lint|turndiff|export`: the set read as agent sessions; thin over `FlowLibrary`.

Registered into the `flows` group by `cli/flows.py`; same set semantics (`--jq` after
`flows.default_jq_filters`), same store read directly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ccproxy.cli.common import library

if TYPE_CHECKING:
    from ccproxy.sessions.library import SessionLibrary


def register(add: Callable[[str, str, Any], argparse.ArgumentParser]) -> None:
    """The session subcommands of `flows`; `add` is the group's own adder (same --jq option)."""
    sp = add("tree", "sessions -> conversations -> turns, subagents nested under the turn that spawned them", run_tree)
    sp.add_argument("--json", action="store_true", help="the tree as JSON")
    sp = add("cache", "prompt-cache forensics per turn: read/write tokens and why a read fell short", run_cache)
    sp.add_argument("id", nargs="?", help="only the conversation of this flow (id or unique prefix)")
    sp.add_argument("--json", action="store_true", help="machine-readable report")
    sp = add("lint", "check every recorded SSE stream (upstream and client side) against its wire grammar; "
             "exit 1 when one is invalid", run_lint)
    sp.add_argument("--json", action="store_true", help="machine-readable findings")
    sp = add("turndiff", "structural diff of a turn's request against the turn it continues", run_turndiff)
    sp.add_argument("id", help="flow id (or unique prefix) of the turn")
    sp.add_argument("--json", action="store_true", help="machine-readable entries")
    sp = add("export", "the session viewer as one self-contained HTML file, the set as a recording another "
             "machine answers from (`provider: recorded`), or a share-safe receipt; redacted unless --unredacted",
             run_export)
    out = sp.add_mutually_exclusive_group(required=True)
    out.add_argument("--html", metavar="FILE", help="write the viewer page here (mode 0600)")
    out.add_argument("--recording", metavar="FILE", help="write the flows (bodies, streams with their timing) "
                     "as a recording for `provider: recorded` (mode 0600)")
    out.add_argument("--receipt", metavar="FILE", help="write a JSON receipt instead: structure, sizes, hashes, "
                     "token counts and timings, no content ('-' for stdout)")
    sp.add_argument("--unredacted", action="store_true", help="keep API keys, tokens and cookies in bodies (careful)")


def _sessions(args: argparse.Namespace) -> SessionLibrary:
    """The set as sessions; imported here so `ccproxy --help` does not load the store."""
    from ccproxy.sessions.library import SessionLibrary

    return SessionLibrary(library(args))


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _tok(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10000 else str(n)


def _usage_label(u: dict[str, Any]) -> str:
    return (f"in {_tok(u['input'])} out {_tok(u['output'])} cache r {_tok(u['cache_read'])} "
            f"w {_tok(u['cache_write'])}")


def _add_conversation(node: Any, conv: dict[str, Any]) -> None:
    from rich.markup import escape

    t = conv["totals"]
    tag = f"[magenta]subagent via {conv['subagent']['tool']}[/] " if conv.get("subagent") else ""
    branch = node.add(f"{tag}[bold]{escape(conv['title'] or conv['id'])}[/] [dim]{conv['model'] or '-'} · "
                      f"{t['turns']} turn(s) · {_usage_label(t)} · {_cost(conv, 'cost_with_subagents')} · "
                      f"{t['latency_ms'] / 1000:.1f}s"
                      + (f" · [red]{t['errors']} error(s)[/]" if t["errors"] else "") + "[/]")
    for turn in conv["turns"]:
        status = turn["status"] or "error"
        style = "green" if isinstance(status, int) and status < 400 else "red"
        tools = f" → {', '.join(turn['tool_uses'])}" if turn["tool_uses"] else ""
        ttfb = f" ttfb {turn['ttfb_ms']:.0f}ms" if turn.get("ttfb_ms") is not None else ""
        leaf = branch.add(
            f"#{turn['index']} [cyan]{turn['flow_id'][:8]}[/] [{style}]{status}[/] {turn['kind']}"
            f" {_usage_label(turn['usage'])} · {_cost(turn, 'cost')} · {float(turn['duration_ms'] or 0):.0f}ms{ttfb}"
            f" {turn['stop_reason'] or ''}{escape(tools)}" + (f" [red]{escape(turn['error'])}[/]" if turn["error"] else ""))
        for child in turn["children"]:
            _add_conversation(leaf, child)


def _cost(node: dict[str, Any], key: str) -> str:
    """A turn's cost (`cost`: one flow's) or a conversation's / session's sum (`label`)."""
    value = node.get(key)
    if not value:
        return "cost -"
    if "label" in value:
        return f"cost {value['label']}"
    from ccproxy.sessions.cost import usd_text

    return f"cost {usd_text(value.get('usd'))}"


def run_tree(args: argparse.Namespace) -> int:
    tree = _sessions(args).tree(args.jq)
    if args.json:
        sys.stdout.write(json.dumps(tree, indent=2, ensure_ascii=False) + "\n")
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    if not tree:
        console.print("no flows in the set")
        return 0
    for session in tree:
        t = session["totals"]
        root = Tree(f"[bold]session {escape(session['session_id'])}[/] [dim]{_when(session['first'])} → "
                    f"{_when(session['last'])} · {t['turns']} turn(s) · {_usage_label(t)} · {_cost(session, 'cost')}[/]")
        for conv in session["conversations"]:
            _add_conversation(root, conv)
        console.print(root)
    return 0


def run_cache(args: argparse.Namespace) -> int:
    from ccproxy.sessions.cache import explain_text

    report = _sessions(args).cache(args.jq, args.id)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write("".join(explain_text(c["title"] or c["conversation"], c["turns"]) for c in report))
    return 0


def run_lint(args: argparse.Namespace) -> int:
    report = _sessions(args).lint(args.jq)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    elif not report:
        print("no streamed flows in the set")
    for r in [] if args.json else report:
        print(f"{r['flow_id'][:8]} {'ok     ' if r['valid'] else 'INVALID'} {r['summary']}")
        for side in ("upstream", "client"):
            for f in (r[side] or {}).get("findings", []):
                where = f"event {f['event']}" if f["event"] else "end"
                print(f"    {side} {f['severity']} at {where}: [{f['rule']}] {f['message']}")
    return 0 if all(r["valid"] for r in report) else 1


def run_turndiff(args: argparse.Namespace) -> int:
    from ccproxy.sessions.turndiff import diff_text

    found = _sessions(args).turn_diff(args.id, args.jq)
    if args.json:
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return 0
    title = f"turn {found['turn']} ({found['flow_id'][:8]}) vs turn {found['against_turn']} ({found['against'][:8]})"
    sys.stdout.write(diff_text(title, found["entries"]))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ccproxy.daemon.state import read_state
    from ccproxy.flows.library import request_bodies
    from ccproxy.viewer.data import viewer_data
    from ccproxy.viewer.page import write_html

    lib = library(args)
    if args.recording or args.receipt:
        flows = lib.load_set(args.jq)
        if args.receipt:
            return _write_receipt(args.receipt, flows)
        from ccproxy.flows.recording import write_recording

        if not flows:
            print(f"ccproxy: {lib.empty_reason(args.jq)}", file=sys.stderr)
        write_recording(Path(args.recording), flows, redacted=not args.unredacted)
        print(f"wrote {args.recording} ({len(flows)} flow(s){'' if args.unredacted else ', redacted'})")
        return 0
    facts = lib.facts(args.jq)
    if not facts:
        print("warning: no flows in the set; the page is empty", file=sys.stderr)
    path = Path(args.html)
    state = read_state(lib.config_dir)  # a running daemon's mitmweb gets "open in mitmweb" links
    mitmweb = state.listeners["inspector"].url if state and "inspector" in state.listeners else None
    with lib.open() as store:
        data = viewer_data(facts, {d["id"]: d for d in store.docs([f.id for f in facts])} if store else {},
                           request_bodies(store) if store else (lambda _: None),
                           lambda fid: next(iter(lib.load([fid])), None),
                           redacted=not args.unredacted, mitmweb=mitmweb, prices=lib.config.prices)
    write_html(path, data)
    print(f"wrote {path} ({len(facts)} flow(s){'' if args.unredacted else ', redacted'})")
    return 0


def _write_receipt(target: str, flows: Any) -> int:
    import json

    from ccproxy.fileio import write_private
    from ccproxy.flows.receipt import receipt

    text = json.dumps(receipt(flows), indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return 0
    from pathlib import Path

    write_private(Path(target), text.encode())
    print(f"wrote {target} (receipt of {len(flows)} flow(s): no content)")
    return 0
