"""`ccproxy flows list|show|compare|diff|dump|clear`: thin wrappers over `ccproxy.flows.library.FlowLibrary`.

Every subcommand works on one resolved set: all stored flows -> `flows.default_jq_filters` ->
each `--jq FILTER` in order. The store is read directly, so these work while the daemon is
stopped; `clear` also removes the flows from a running daemon's mitmweb view.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ccproxy.cli.common import library

if TYPE_CHECKING:
    from ccproxy.flows.library import FlowLibrary

LIST_LIMIT = 50  # rows of the `flows list` table unless --limit/--all: rendering 10,000 rows takes seconds
JQ_HELP = (
    "jq filter over the JSON array of flows; must return an array (repeatable, applied in order "
    "after flows.default_jq_filters), e.g. 'map(select(.response.status_code >= 400))' or '.[-1:]'"
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "flows",
        help="inspect recorded flows: list, show, compare, diff, dump (HAR), clear; as sessions: tree, cache, lint, turndiff, export",
        description="Inspect the flows the daemon recorded. Every subcommand works on one set: all stored "
        "flows (oldest first) -> flows.default_jq_filters -> each --jq in order. A filter that fails or "
        "does not return an array of flows exits 2; an empty set exits 0 and says why on stderr. Flow ids may be "
        "given as any unique prefix.",
    )
    p.set_defaults(func=lambda args: _help(p))
    fsub = p.add_subparsers(dest="flows_command", metavar="SUBCOMMAND")

    def add(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = fsub.add_parser(name, help=help, description=help)
        sp.add_argument("--jq", action="append", default=[], metavar="FILTER", help=JQ_HELP)
        sp.set_defaults(func=func)
        return sp

    sp = add("list", "a table of the set (id, method, status, host, path, model, tokens, cost, source, age)", run_list)
    sp.add_argument("--json", action="store_true", help="print the set as the JSON array the filters see")
    sp.add_argument("--limit", type=int, default=None, metavar="N",
                    help=f"table: the newest N flows (default {LIST_LIMIT}; 0 means all)")
    sp.add_argument("--all", action="store_true", help="table: every flow in the set (slow for thousands)")
    sp = add("show", "one flow: client request, forwarded changes, provider response, client response", run_show)
    sp.add_argument("id", nargs="?", help="flow id or unique prefix (default: the newest flow in the set)")
    sp.add_argument("--json", action="store_true", help="the whole record: flow JSON, bodies, events")
    sp.add_argument("--raw", action="store_true", help="bodies exactly as captured (no pretty-print, no reassembly)")
    sp.add_argument("--follow", action="store_true",
                    help="show the response while it streams (text, thinking, tool arguments, TTFT, tokens/s); "
                    "without ID, the next request in flight (needs the running daemon)")
    sp.add_argument("--timeout", type=float, default=600.0, metavar="S", help="--follow: give up after S seconds")
    sp = add("compare", "per flow: client vs forwarded request, provider vs client response", run_compare)
    sp.add_argument("--json", action="store_true", help="machine-readable comparison")
    sp = add("diff", "unified diffs of request bodies across consecutive flows (f0->f1, f1->f2, ...)", run_diff)
    sp.add_argument("--client", action="store_true", help="diff the client's request bodies, not the forwarded ones")
    sp = add("dump", "the set as a multi-page HAR 1.2 document on stdout (credentials masked)", run_dump)
    sp.add_argument("--unredacted", action="store_true", help="keep API keys, tokens and cookies (careful)")
    sp = add("clear", "delete the set from the store and the running daemon", run_clear)
    sp.add_argument("--all", action="store_true", help="delete every flow, ignoring all filters")
    from ccproxy.cli import context, cost, quota, replay, report, session

    session.register(add)  # tree, cache, lint, turndiff, export
    cost.register(add)  # cost
    replay.register(add)  # replay
    quota.register(add)  # quota
    context.register(add)  # context
    report.register(add)  # report


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _color(text: str) -> str:
    """Color a diff for a terminal; plain when piped."""
    if not sys.stdout.isatty():
        return text
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if line.startswith(("+++", "---")):
            out.append(f"\x1b[1m{line}\x1b[0m")
        elif line.startswith("@@"):
            out.append(f"\x1b[36m{line}\x1b[0m")
        elif line.startswith("+") or stripped.startswith("+ "):
            out.append(f"\x1b[32m{line}\x1b[0m")
        elif line.startswith("-") or stripped.startswith("- "):
            out.append(f"\x1b[31m{line}\x1b[0m")
        else:
            out.append(line)
    return "".join(out)


def _model(ccp: dict[str, Any]) -> str:
    """The model the request went to (a rule's `dest_model`), with the client's when it differs."""
    client, sent = ccp.get("model"), (ccp.get("transform") or {}).get("model")
    if sent and client and sent != client:
        return f"{sent} (asked {client})"
    return str(sent or client or "-")


def age(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    secs = max(0, int(now - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _tokens(usage: dict[str, int] | None) -> str:
    if not usage:
        return "-"
    return f"{usage.get('input_tokens', '?')}/{usage.get('output_tokens', '?')}"


def _empty(lib: FlowLibrary, jq: list[str]) -> int:
    """The one rule for an empty set, in every subcommand: it is an answer, not an error. Exit 0,
    the empty result on stdout (`[]`, a HAR without entries, nothing), and why on stderr."""
    print(f"ccproxy: {lib.empty_reason(jq)}", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    lib = library(args)
    if args.json:
        data = lib.json_bytes(args.jq)
        sys.stdout.flush()
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()
        if data.strip() == b"[]":
            return _empty(lib, args.jq)
        return 0
    limit = 0 if args.all else (LIST_LIMIT if args.limit is None else max(0, args.limit))
    total, flows = lib.newest(args.jq, limit)
    if not flows:
        return _empty(lib, args.jq)
    from rich.console import Console
    from rich.table import Table

    from ccproxy.sessions.cost import flow_cost

    # Piped output keeps whole columns (ids, paths) for grep; a terminal gets its own width.
    console = Console(width=None if sys.stdout.isatty() else 200)
    table = Table(show_header=True, header_style="bold", show_lines=False)
    for col in ("id", "method", "status", "host", "path", "model", "tokens", "cost", "source", "age"):
        table.add_column(col, justify="right" if col in ("status", "tokens", "cost", "age") else "left",
                         no_wrap=col != "path", overflow="fold" if col == "path" else "ellipsis")
    now = time.time()
    for f in flows:
        req, resp, ccp = f.get("request") or {}, f.get("response") or {}, f.get("ccproxy") or {}
        status = resp.get("status_code")
        cost = flow_cost(f, lib.config.prices)
        style = "green" if status and status < 400 else "red"
        table.add_row(
            str(f.get("id", ""))[:8], str(req.get("method", "")),
            f"[{style}]{status if status else (ccp.get('error') and 'error') or '-'}[/{style}]",
            str(req.get("pretty_host") or req.get("host", "")), str(req.get("path", "")),
            _model(ccp), _tokens(ccp.get("usage")), cost.label if cost else "-",
            str(ccp.get("source") or "-"),
            age((ccp.get("client_request") or {}).get("timestamp_start") or req.get("timestamp_start"), now),
        )
    console.print(table, markup=True, highlight=False)
    if total > len(flows):
        console.print(f"the newest {len(flows)} of {total} flows; {total - len(flows)} older not shown "
                      "(--limit N or --all shows more, --json prints the whole set)", highlight=False)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ccproxy.flows.show import dumps, show_json, show_text

    if args.follow:
        from ccproxy.cli.follow import follow

        return follow(args)
    lib = library(args)
    if args.id:
        flow = lib.get_flow(args.id, args.jq)
    else:
        newest = lib.latest(args.jq)
        if newest is None:
            return _empty(lib, args.jq)
        flow = newest
    from ccproxy.sessions.cost import flow_cost

    cost = flow_cost(flow.doc, lib.config.prices)
    if args.json:
        sys.stdout.write(dumps({**show_json(flow), "cost": cost.to_json() if cost else None}) + "\n")
    else:
        sys.stdout.write(_color(show_text(flow, raw=args.raw)))
        if cost is not None:
            why = f" ({cost.reason})" if cost.reason else f" ({cost.model}, {cost.source})"
            sys.stdout.write(f"cost: {cost.label}{why}\n")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from ccproxy.flows.changes import comparison_text

    lib = library(args)
    comparisons = lib.compare(args.jq)
    if not comparisons:
        return _empty(lib, args.jq)
    if args.json:
        sys.stdout.write(json.dumps([c.to_json() for c in comparisons], indent=2) + "\n")
        return 0
    sys.stdout.write(_color("\n".join(comparison_text(c) for c in comparisons)))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from ccproxy.flows.changes import diff_text

    lib = library(args)
    diffs = lib.diff(args.jq, phase="client_request" if args.client else "request")
    if not diffs:
        return _empty(lib, args.jq)
    sys.stdout.write(_color("".join(diff_text(d) for d in diffs)))
    return 0


def run_dump(args: argparse.Namespace) -> int:
    lib = library(args)
    evicted: list[str] = []
    count = lib.write_har(sys.stdout, args.jq, redacted=not args.unredacted, evicted=evicted)
    sys.stdout.flush()
    if evicted:
        print(f"{len(evicted)} of the {count} flow(s) dumped have no bodies: they were evicted by the disk budget "
              "(flows.retention.max_disk_mb); their entries carry the summary only", file=sys.stderr)
    if not count:
        return _empty(lib, args.jq)  # the HAR written has no entries
    return 0


def run_command(base: str, token: str, name: str, *arguments: str) -> Any:
    """Call a mitmproxy command in the running daemon (`POST /commands/<name>` on mitmweb's REST API).

    Writes need mitmweb's XSRF check as well as the token: a synthetic cookie/header pair passes it."""
    import secrets
    import urllib.request

    from ccproxy.errors import DaemonError

    xsrf = secrets.token_hex(16)
    headers = {"Authorization": f"Bearer {token}", "Cookie": f"_mitmproxy_xsrf={xsrf}", "X-XSRFToken": xsrf,
               "Content-Type": "application/json"}
    data = json.dumps({"arguments": list(arguments)}).encode()
    req = urllib.request.Request(f"{base}/commands/{name}", data=data, method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read() or b"{}")
    if "error" in answer:
        raise DaemonError(f"the daemon refused `{name}`: {answer['error']}; restart it with `ccproxy start`")
    return answer.get("value")


def forget(directory: Any, ids: list[str], everything: bool) -> str:
    """Remove cleared flows from a running daemon's mitmweb view (`ccproxy.view.remove`); says where they went."""
    from ccproxy.daemon.state import read_state
    from ccproxy.errors import DaemonError

    state = read_state(directory)
    if state is None:
        return " (no daemon running)"
    base, token = state.listeners["inspector"].url, state.web_token
    try:
        run_command(base, token, "ccproxy.view.remove", "*" if everything else ",".join(ids))
    except OSError as exc:
        raise DaemonError(
            f"flows were deleted from the store, but the daemon at {base} did not answer ({exc}); "
            "they stay in the mitmweb view until it restarts"
        ) from None
    return " and the daemon"


def run_clear(args: argparse.Namespace) -> int:
    lib = library(args)
    ids = lib.clear(args.jq, all_flows=args.all)
    if not ids:
        print("cleared 0 flow(s)")
        return _empty(lib, [] if args.all else args.jq)
    where = forget(lib.config_dir, ids, everything=args.all)
    print(f"cleared {len(ids)} flow(s) from the store{where}")
    return 0
