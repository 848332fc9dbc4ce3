"""The one JSON blob the session viewer renders: the tree plus, per flow, its four phases, SSE timeline,
lint findings, cache verdict and turn diff.

The same blob is inlined into `flows export --html` and served live by the daemon at
`/ccproxy/api/data`, so both show exactly the same views. Redacted by default: headers as the store
masks them, bodies through `redact_body`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from ccproxy.scrub import mask_credentials
from ccproxy.sessions.api import lint_flow, turn_diffs
from ccproxy.sessions.cache import explain_turns
from ccproxy.sessions.cost import Price, flow_cost
from ccproxy.sessions.spend import annotate_tree
from ccproxy.sessions.tree import Memo, group, started_of
from ccproxy.store.redact import redact_body
from ccproxy.store.stored_flow import StoredFlow, pretty

PHASES = ("client_request", "request", "upstream_response", "response")
#: A body shown in the page is cut here; the full body stays one `ccproxy flows show` away.
MAX_BODY_CHARS = 200_000
MAX_EVENT_CHARS = 2_000
MAX_EVENTS = 2_000
_RAW_KEYS = {"client_request": "client_request", "request": "request", "upstream_response": "upstream_response",
             "response": "response"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[ccproxy: cut at {limit} of {len(text)} characters]"


def _phase(flow: StoredFlow, phase: str, redacted: bool, raw_headers: dict[str, Any]) -> dict[str, Any] | None:
    if not flow.has(phase):
        return None
    headers = flow.headers(phase) if redacted else (raw_headers.get(_RAW_KEYS[phase]) or flow.headers(phase))
    data = flow.body(phase)
    if data is not None and redacted:
        data = redact_body(data, flow.content_type(phase))
    body = _cut(pretty(data), MAX_BODY_CHARS) if data is not None else None
    return {"headers": headers or [], "body": body}


def _events(flow: StoredFlow, side: str, start: float) -> list[list[Any]]:
    return [[round((e.t - start) * 1000, 1), e.event, _cut(e.data, MAX_EVENT_CHARS)]
            for e in flow.events(side)[:MAX_EVENTS]]


def _summary(flow: StoredFlow, start: float, prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    ccp, req, resp = flow.ccproxy, flow.doc.get("request") or {}, flow.doc.get("response") or {}
    client = ccp.get("client_request") or {}
    return {
        "id": flow.id, "method": req.get("method"), "client_url": client.get("url"),
        "forwarded": f"{req.get('scheme', 'http')}://{req.get('pretty_host') or req.get('host')}{req.get('path', '')}",
        "status": resp.get("status_code"), "model": ccp.get("model"), "provider": ccp.get("provider"),
        "started": start, "duration_ms": ccp.get("duration_ms"), "ttfb_ms": ccp.get("ttfb_ms"),
        "error": mask_credentials(str(ccp["error"]), keep_sentinels=True) if ccp.get("error") else None,
        "stop_reason": ccp.get("stop_reason"), "usage": ccp.get("usage"),
        "transform": ccp.get("transform"), "session_id": ccp.get("session_id"),
        "cost": cost.to_json() if (cost := flow_cost(flow.doc, prices)) else None,
    }


def flow_detail(flow: StoredFlow, redacted: bool = True) -> dict[str, Any]:
    """The heavy part of a flow's view: the four phases and both SSE event lists."""
    raw = {} if redacted else flow.raw_headers()
    started = started_of(flow)
    return {
        "phases": {p: _phase(flow, p, redacted, raw) for p in PHASES},
        "events": {side: _events(flow, side, started) for side in ("upstream", "client")},
    }


def viewer_data(flows: Sequence[StoredFlow], redacted: bool = True, mitmweb: str | None = None,
                details: bool = True, memo: Memo | None = None,
                prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """The blob: `tree` (as `flows tree --json`) and `flows` keyed by id, each with its summary, lint
    findings, `cache` verdict and turn `diff`; with `details` also its phases and events (the live page
    fetches those per flow from `api/flow/<id>` instead: a session's bodies run to megabytes)."""
    memo = memo or Memo()
    sessions = group(flows, memo)
    views: dict[str, dict[str, Any]] = {}
    for session in sessions:
        for conv in session.conversations:
            diffs = turn_diffs(conv, memo)
            for turn, cache_row in zip(conv.turns, explain_turns(conv.turns, memo), strict=True):
                flow = turn.flow
                view: dict[str, Any] = {"summary": _summary(flow, turn.started, prices),
                                        "lint": memo.get("lint", [flow], partial(lint_flow, flow)),
                                        "cache": cache_row, "diff": diffs.get(turn.flow.id), "conversation": conv.id}
                if details:
                    view.update(flow_detail(turn.flow, redacted))
                views[turn.flow.id] = view
    return {"generated": time.time(), "redacted": redacted, "mitmweb": mitmweb,
            "tree": annotate_tree([s.to_json() for s in sessions],
                                  {i: v["summary"]["cost"] for i, v in views.items()}), "flows": views}
