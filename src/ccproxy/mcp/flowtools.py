"""What the flow tools answer: `ccproxy flows` semantics (same set resolution, same masking), sized for agents.

Every set is resolved by the same `FlowLibrary` the CLI uses: all stored flows ->
`flows.default_jq_filters` -> each of the caller's `jq` filters. This module only shapes the
answers (summary rows, body previews, pages) so none of them blows a context window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.errors import FlowError, UsageError
from ccproxy.flows.changes import compare as compare_one
from ccproxy.flows.changes import comparison_text, diff_text
from ccproxy.flows.library import FlowLibrary
from ccproxy.mcp.paging import DEFAULT_PREVIEW, clamp, cut, marker, page, shorten_fields
from ccproxy.store.redact import redact_body
from ccproxy.store.stored_flow import StoredFlow, pretty
from ccproxy.store.times import iso

REQUEST_PHASES = ("request", "client_request")
RESPONSE_PHASES = ("response", "upstream_response")
DEFAULT_ROWS = 100
MAX_ROWS = 1000


def filters(jq: Sequence[str] | str | None) -> list[str]:
    """The caller's `jq` argument as a list (one string is one filter)."""
    if jq is None:
        return []
    if isinstance(jq, str):
        return [jq] if jq.strip() else []
    return [f for f in jq if f.strip()]


def summary_row(doc: dict[str, Any]) -> dict[str, Any]:
    """One `list_flows` row: what the `flows list` table shows, plus the ids an agent follows up with."""
    req, resp, ccp = doc.get("request") or {}, doc.get("response") or {}, doc.get("ccproxy") or {}
    started = (ccp.get("client_request") or {}).get("timestamp_start") or req.get("timestamp_start")
    return {
        "id": doc.get("id"),
        "method": req.get("method"),
        "status": resp.get("status_code"),
        "host": req.get("pretty_host") or req.get("host"),
        "path": req.get("path"),
        "model": ccp.get("model"),
        "provider": ccp.get("provider"),
        "usage": ccp.get("usage"),
        "source": ccp.get("source"),
        "started": iso(started) if started else None,
        "duration_ms": ccp.get("duration_ms"),
        "streamed": ccp.get("streamed"),
        "session_id": ccp.get("session_id"),
        "conversation_id": ccp.get("conversation_id"),
        "error": ccp.get("error"),
    }


def body_text(flow: StoredFlow, phase: str, raw: bool = False) -> str | None:
    """A phase's body as text: content-encoding undone, credentials masked, JSON pretty-printed."""
    data = flow.body(phase)
    if data is None:
        return None
    masked = redact_body(data, flow.content_type(phase))
    return masked.decode("utf-8", "replace") if raw else pretty(masked)


def _newest(rows: list[Any], limit: int) -> list[Any]:
    size = DEFAULT_ROWS if limit <= 0 else min(limit, MAX_ROWS)
    return rows[-size:]


@dataclass
class FlowTools:
    """The flow tools over one config dir's flow library (the store read directly, as the CLI does)."""

    library: FlowLibrary

    def _flow(self, flow_id: str | None, jq: Sequence[str]) -> StoredFlow:
        if flow_id and flow_id.strip():
            return self.library.get_flow(flow_id, jq)
        flow = self.library.latest(jq)
        if flow is None:
            raise FlowError("no flows in the set; list_flows shows what is stored (check the jq filters)")
        return flow

    def list_flows(self, jq: Sequence[str] = (), limit: int = DEFAULT_ROWS) -> dict[str, Any]:
        docs = self.library.docs(jq)
        rows = [summary_row(d) for d in _newest(docs, limit)]
        rows = shorten_fields(rows, "get_flow on the row's id has the flow")
        return {"total": len(docs), "shown": len(rows), "flows": rows}

    def get_flow(self, flow_id: str | None, jq: Sequence[str] = (), max_body_chars: int = DEFAULT_PREVIEW,
                 full: bool = False, offset: int = 0, max_chars: int = 0) -> dict[str, Any] | str:
        """The flow with body previews; a string longer than FIELD_CAP (a huge header) is cut with a marker.

        `full`: the same answer uncut, as JSON text, one page at a time."""
        flow = self._flow(flow_id, jq)
        answer = self._flow_answer(flow, max_body_chars)
        call = f'get_flow(id="{flow.id}", full=true'
        if full:
            return page(json.dumps(answer, ensure_ascii=False, default=str), offset, max_chars, call)
        more = f"{call}) pages the whole flow JSON"
        return {**answer, "flow": shorten_fields(answer["flow"], more), "answers": shorten_fields(answer["answers"], more)}

    def _flow_answer(self, flow: StoredFlow, max_body_chars: int) -> dict[str, Any]:
        bodies: dict[str, Any] = {}
        for phase in (*REQUEST_PHASES, *RESPONSE_PHASES):
            text = body_text(flow, phase)
            if text is None:
                continue
            tool = "get_request_body" if phase in REQUEST_PHASES else "get_response_body"
            preview, _ = cut(text, 0, clamp(max_body_chars, DEFAULT_PREVIEW), f'{tool}(id="{flow.id}", phase="{phase}"')
            bodies[phase] = {"content_type": flow.content_type(phase), "chars": len(text), "text": preview}
        answers = {side: (a.to_json() if (a := flow.answer(side)) else None) for side in ("upstream", "client")}
        events = {side: len(flow.events(side)) for side in ("upstream", "client")}
        return {"flow": flow.doc, "bodies": bodies, "answers": answers, "events": events}

    def body(self, flow_id: str | None, phase: str, jq: Sequence[str] = (), offset: int = 0,
             max_chars: int = 0, raw: bool = False) -> str:
        flow = self._flow(flow_id, jq)
        tool = "get_request_body" if phase in REQUEST_PHASES else "get_response_body"
        text = body_text(flow, phase, raw)
        if text is None:
            return f"[ccproxy: flow {flow.id} has no {phase.replace('_', ' ')} body]"
        if not text:
            return f"[ccproxy: the {phase.replace('_', ' ')} body of flow {flow.id} is empty]"
        raw_arg = ", raw=true" if raw else ""
        return page(text, offset, max_chars, f'{tool}(id="{flow.id}", phase="{phase}"{raw_arg}')

    def compare(self, jq: Sequence[str] = (), flow_id: str | None = None, as_json: bool = False,
                offset: int = 0, max_chars: int = 0) -> str:
        if flow_id and flow_id.strip():
            comparisons = [compare_one(self.library.get_flow(flow_id, jq))]
        else:
            comparisons = self.library.compare(jq)
        if not comparisons:
            raise FlowError("no flows in the set to compare; list_flows shows what is stored")
        if as_json:
            text = json.dumps([c.to_json() for c in comparisons], indent=2, ensure_ascii=False)
        else:
            text = "\n".join(comparison_text(c) for c in comparisons)
        return page(text, offset, max_chars, f"compare_flows(jq=<same>{', json=true' if as_json else ''}")

    def diff(self, jq: Sequence[str] = (), client: bool = False, offset: int = 0, max_chars: int = 0) -> str:
        phase = "client_request" if client else "request"
        text = "".join(diff_text(d) for d in self.library.diff(jq, phase=phase))
        return page(text, offset, max_chars, f"diff_flows(jq=<same>{', client=true' if client else ''}")

    def dump_har(self, jq: Sequence[str] = (), offset: int = 0, max_chars: int = 0) -> str:
        """The HAR streamed flow by flow; only the requested page is kept (a set of large agent flows
        would otherwise be built whole in memory for a 20,000-character answer)."""
        window = _Window(offset, clamp(max_chars))
        self.library.write_har(window, jq, redacted=True)
        return window.page("dump_har(jq=<same>")

    def clear(self, jq: Sequence[str] = (), all_flows: bool = False) -> dict[str, Any]:
        ids = self.library.clear(jq, all_flows=all_flows)
        return {"cleared": len(ids), "ids": ids[:MAX_ROWS]}

    def conversations(self, jq: Sequence[str] = (), limit: int = DEFAULT_ROWS) -> dict[str, Any]:
        groups = self.library.conversations(jq)
        shown = shorten_fields(_newest(groups, limit), "list_flows with a jq filter on .ccproxy.conversation_id has them")
        return {"total": len(groups), "shown": len(shown), "conversations": shown}


class _Window:
    """A write-only text sink that keeps only chars [offset, offset+size) and counts the rest, so
    `dump_har` pages like `paging.page` without holding the whole document."""

    def __init__(self, offset: int, size: int) -> None:
        if offset < 0:
            raise UsageError(f"offset must be 0 or more, got {offset}")
        self.offset, self.size, self.total = offset, size, 0
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        start, end = self.total, self.total + len(text)
        lo, hi = max(start, self.offset), min(end, self.offset + self.size)
        if lo < hi:
            self.parts.append(text[lo - start : hi - start])
        self.total = end
        return len(text)

    def page(self, call: str) -> str:
        total, offset = self.total, self.offset
        if offset and offset >= total:
            raise UsageError(f"offset {offset} is past the end: the text has {total} characters")
        end = min(total, offset + self.size)
        text = "".join(self.parts)
        if offset:
            text = f"[ccproxy: chars {offset}-{end} of {total}]\n" + text
        return text + marker(call, end, total) if end < total else text
