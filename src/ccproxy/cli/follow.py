"""`ccproxy flows show --follow [ID]`: a response in the terminal while it streams, then the stored flow.

Polls the running daemon's `/ccproxy/api/live` (mitmweb's port and token, from the state file): the
text, thinking and tool-call arguments as they grow, then TTFT and tokens/s. Without an ID it waits
for the next request in flight.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ccproxy.cli.common import library, load
from ccproxy.errors import DaemonError

POLL_SECONDS = 0.2


def _live(url: str, token: str, flow_id: str | None) -> list[dict[str, Any]]:
    query = f"?id={urllib.parse.quote(flow_id)}" if flow_id else ""
    req = urllib.request.Request(url + "/ccproxy/api/live" + query, headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        flows: list[dict[str, Any]] = json.load(resp)["flows"]
    return flows


class Printer:
    """Writes only what is new since the last poll, each kind of content under its own heading."""

    def __init__(self) -> None:
        self.shown: dict[str, int] = {}

    def update(self, entry: dict[str, Any]) -> None:
        pieces = [("thinking", entry["reasoning"]), ("text", entry["text"])]
        pieces += [(f"tool call {c['name']}", c["arguments"]) for c in entry["tool_calls"]]
        for label, text in pieces:
            seen = self.shown.get(label)
            if not text or seen == len(text):
                continue
            if seen is None:
                sys.stdout.write(f"\n--- {label} ---\n")
                seen = 0
            sys.stdout.write(text[seen:])
            self.shown[label] = len(text)
        sys.stdout.flush()


def _stats(entry: dict[str, Any]) -> str:
    ttft = f"{entry['ttft_ms']:.0f} ms" if entry.get("ttft_ms") is not None else "-"
    rate = f"{entry['tokens_per_s']:.1f}" if entry.get("tokens_per_s") is not None else "-"
    approx = "~" if entry.get("tokens_estimated") else ""
    return f"TTFT {ttft} · {approx}{entry['output_tokens']} output tokens · {approx}{rate} tokens/s · {entry['events']} events"


def follow(args: argparse.Namespace) -> int:
    from ccproxy.daemon.state import read_state

    directory, _ = load(args)
    state = read_state(directory)
    if state is None:
        raise DaemonError("no daemon runs for this config dir; start it with `ccproxy start` to follow a stream")
    url, token = state.listeners["inspector"].url, state.web_token
    deadline = time.monotonic() + args.timeout
    flow_id: str | None = args.id
    entry: dict[str, Any] | None = None
    printer = Printer()
    while time.monotonic() < deadline:
        try:
            flows = _live(url, token, flow_id)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise DaemonError(f"the daemon's live endpoint did not answer ({exc}); check `ccproxy status`") from None
        if not flows:
            if entry is not None or args.id:
                break  # it finished (or was never in flight): the store has it
            time.sleep(POLL_SECONDS)
            continue
        entry = flows[-1]
        if flow_id is None or len(flow_id) < len(entry["id"]):
            flow_id = entry["id"]
            sys.stdout.write(f"following flow {entry['id']} {entry['method']} {entry['client_url']}\n")
        printer.update(entry)
        time.sleep(POLL_SECONDS)
    else:
        sys.stderr.write(f"stopped following after {args.timeout:g} s (--timeout)\n")
        return 1
    return _finished(args, flow_id, printer, entry)


def _finished(args: argparse.Namespace, flow_id: str | None, printer: Printer, entry: dict[str, Any] | None) -> int:
    """The rest of the answer (what arrived after the last poll) and the stored flow's outcome, once the
    recorder wrote it (a bounded wait)."""
    from ccproxy.errors import FlowError

    if flow_id is None:
        return 0
    lib = library(args)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            flow = lib.get_flow(flow_id, args.jq)
        except FlowError:
            time.sleep(POLL_SECONDS)
            continue
        answer = flow.answer("client") or flow.answer("upstream")
        if answer is not None:
            printer.update({"reasoning": answer.reasoning, "text": answer.text,
                            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in answer.tool_calls]})
        if entry is not None:
            sys.stdout.write(f"\n--- {_stats(entry)} ---\n")
        resp = flow.doc.get("response") or {}
        usage = flow.ccproxy.get("usage") or {}
        sys.stdout.write(f"finished: {resp.get('status_code') or flow.ccproxy.get('error')} · usage {json.dumps(usage)}"
                         f" · `ccproxy flows show {flow.id[:8]}` for the whole flow\n")
        return 0
    sys.stderr.write(f"flow {flow_id} is not in the store yet; try `ccproxy flows show {flow_id[:8]}`\n")
    return 1
