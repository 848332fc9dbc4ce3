"""The one JSON blob the session viewer renders: the tree plus, per flow, its summary, lint findings, cache
verdict and turn diff, and (exported pages only) its four phases and SSE timeline.

The light blob is built from each flow's facts (`flows.facts`) and flow JSON, never from bodies: the
live page polls it, and a long session's bodies run to gigabytes. A flow's phases, events and turn
diff are read when the page opens that flow (`api/flow/<id>`, `flow_view`). `flows export --html`
inlines everything, one flow's bodies at a time. Redacted by default: headers as the store masks
them, bodies through `redact_body`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ccproxy.scrub import mask_credentials
from ccproxy.sessions.api import diff_header
from ccproxy.sessions.cache import Bodies, explain_turns
from ccproxy.sessions.cost import Price, flow_cost
from ccproxy.sessions.spend import annotate_tree
from ccproxy.sessions.tree import group
from ccproxy.sessions.turndiff import structural_diff, summarize
from ccproxy.store.facts import Facts, started_of
from ccproxy.store.redact import redact_body
from ccproxy.store.stored_flow import StoredFlow, pretty

PHASES = ("client_request", "request", "upstream_response", "response")
#: A body shown in the page is cut here; the full body stays one `ccproxy flows show` away.
MAX_BODY_CHARS = 200_000
MAX_EVENT_CHARS = 2_000
MAX_EVENTS = 2_000
_RAW_KEYS = {"client_request": "client_request", "request": "request", "upstream_response": "upstream_response",
             "response": "response"}
Verdicts = dict[tuple[str, str, int], dict[str, Any]]


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


def _summary(doc: dict[str, Any], facts: Facts, prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    ccp, req = doc.get("ccproxy") or {}, doc.get("request") or {}
    client = ccp.get("client_request") or {}
    return {
        "id": facts.id, "method": req.get("method"), "client_url": client.get("url"),
        "forwarded": f"{req.get('scheme', 'http')}://{req.get('pretty_host') or req.get('host')}{req.get('path', '')}",
        "status": facts.status, "model": facts.model, "provider": ccp.get("provider"),
        "started": facts.started, "duration_ms": facts.duration_ms, "ttfb_ms": facts.ttfb_ms,
        "error": mask_credentials(str(facts.error), keep_sentinels=True) if facts.error else None,
        "stop_reason": facts.stop_reason, "usage": facts.usage,
        "transform": ccp.get("transform"), "session_id": ccp.get("session_id"),
        "cost": cost.to_json() if (cost := flow_cost(doc, prices)) else None,
    }


def flow_detail(flow: StoredFlow, redacted: bool = True) -> dict[str, Any]:
    """The heavy part of a flow's view: the four phases and both SSE event lists."""
    raw = {} if redacted else flow.raw_headers()
    started = started_of(flow)
    return {
        "phases": {p: _phase(flow, p, redacted, raw) for p in PHASES},
        "events": {side: _events(flow, side, started) for side in ("upstream", "client")},
    }


def full_diff(header: dict[str, Any] | None, bodies: Bodies) -> dict[str, Any] | None:
    """A light blob's diff header completed with the structural diff (two request bodies read)."""
    if header is None:
        return None
    entries = structural_diff(bodies(header["against"]), bodies(_flow_of(header)))
    return {**header, "counts": summarize(entries), "entries": entries}


def _flow_of(header: dict[str, Any]) -> str:
    return str(header["flow_id"])


def light_data(facts: Sequence[Facts], docs: Mapping[str, dict[str, Any]], bodies: Bodies,
               redacted: bool = True, mitmweb: str | None = None, verdicts: Verdicts | None = None,
               prices: Mapping[str, Price] | None = None,
               summaries: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The blob the live page polls: `tree` (as `flows tree --json`, with costs) and `flows` keyed by id, each
    with its summary, lint findings, `cache` verdict and the header of its turn `diff` (which turn it is
    diffed against; the entries come with the flow's detail). Bodies are read only to locate a cache drift.
    `summaries` is a caller's memo of each flow's summary by id (pricing a flow is the costly part)."""
    sessions = group(facts)
    views: dict[str, dict[str, Any]] = {}
    for session in sessions:
        for conv in session.conversations:
            for i, (turn, cache_row) in enumerate(zip(conv.turns, explain_turns(conv.turns, bodies, verdicts),
                                                      strict=True)):
                head = diff_header(conv, i)
                summary = summaries.get(turn.id) if summaries is not None else None
                if summary is None:
                    summary = _summary(docs.get(turn.id) or {}, turn.facts, prices)
                    if summaries is not None:
                        summaries[turn.id] = summary
                views[turn.id] = {"summary": summary,
                                  "lint": turn.facts.lint, "cache": cache_row,
                                  "diff": {**head, "flow_id": turn.id} if head else None, "conversation": conv.id}
    tree = annotate_tree([s.to_json() for s in sessions], {i: v["summary"]["cost"] for i, v in views.items()})
    return {"generated": time.time(), "redacted": redacted, "mitmweb": mitmweb, "tree": tree, "flows": views}


def viewer_data(facts: Sequence[Facts], docs: Mapping[str, dict[str, Any]], bodies: Bodies,
                load: Callable[[str], StoredFlow | None], redacted: bool = True,
                mitmweb: str | None = None, prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """The whole blob for an exported page: the light blob plus every flow's phases, events and diff,
    each flow's bodies read (`load`) and dropped in turn."""
    data = light_data(facts, docs, bodies, redacted, mitmweb, prices=prices)
    for fid, view in data["flows"].items():
        view["diff"] = full_diff(view["diff"], bodies)
        flow = load(fid)
        if flow is not None:
            view.update(flow_detail(flow, redacted))
    return data
