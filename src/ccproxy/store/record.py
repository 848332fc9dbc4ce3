"""Turn a finished flow into what the store keeps: the flow JSON jq sees, plus the bodies of all four phases.

The four phases: the client request as it arrived (`client_request`), the request as forwarded
(`request`), the provider's response as it came back (`upstream_response`, with `upstream_events`
for a stream) and the response the client got (`response`, with `client_events`). The flow JSON
is mitmweb's own flow JSON (computed by the caller) plus one `.ccproxy` object, with credentials
masked; the unmasked headers are kept apart in the `raw_headers` part for `dump --unredacted`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flowmeta import FlowMeta, SSEEvent
from ccproxy.store import answer as answers
from ccproxy.store.conversation import conversation_id, model_of, parse_json
from ccproxy.store.redact import redact_headers, redact_path, redact_url
from ccproxy.store.websocket import PART as WS_PART
from ccproxy.store.websocket import RawMessage, messages_json, socket_facts
from ccproxy.store.websocket import summary as ws_summary

#: Body parts a record may carry, in phase order.
PARTS = (
    "client_request",
    "request",
    "upstream_response",
    "response",
    "upstream_events",
    "client_events",
    "websocket_messages",
    "raw_headers",
)


@dataclass
class FlowRecord:
    """One flow as stored: `doc` is what `--jq` filters see, `parts` the bodies and events."""

    id: str
    ts: float
    doc: dict[str, Any]
    parts: dict[str, bytes] = field(default_factory=dict)

    @property
    def ccproxy(self) -> dict[str, Any]:
        return dict(self.doc.get("ccproxy") or {})


@dataclass
class Captured:
    """The raw material the recorder reads off a mitmproxy flow."""

    web: dict[str, Any]
    meta: FlowMeta
    request_body: bytes = b""
    response_body: bytes | None = None
    error: str | None = None
    error_ts: float | None = None
    #: A WebSocket flow's messages so far and its close state (`flows.websocket`); None for plain HTTP.
    websocket_messages: list[RawMessage] | None = None
    websocket_state: dict[str, Any] | None = None


def events_json(events: list[SSEEvent]) -> bytes:
    return json.dumps([[e.t, e.event, e.data] for e in events], separators=(",", ":")).encode()


def events_from_json(data: bytes) -> list[SSEEvent]:
    return [SSEEvent(t=float(t), event=ev, data=str(d)) for t, ev, d in json.loads(data or b"[]")]


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start) * 1000, 3)


def upstream_of(cap: Captured) -> tuple[dict[str, Any] | None, bytes | None]:
    """The provider's response (summary, body); a stream cut mid-way still yields what arrived."""
    meta, up = cap.meta, cap.meta.upstream_response
    if up is not None:
        summary = {
            "status_code": up.status_code,
            "reason": up.reason,
            "headers": [list(h) for h in up.headers],
            "content_length": len(up.body),
        }
        return summary, up.body
    resp = cap.web.get("response")
    if resp and (meta.upstream_raw or meta.upstream_events):
        body = bytes(meta.upstream_raw)
        summary = {
            "status_code": resp.get("status_code"),
            "reason": resp.get("reason", ""),
            "headers": [list(h) for h in resp.get("headers") or []],
            "content_length": len(body),
        }
        return summary, body
    return None, None


def read_answer(body: bytes | None, events: list[SSEEvent]) -> answers.Answer | None:
    if events:
        return answers.from_events(events)
    return answers.from_body(body) if body else None


def _times(cap: Captured) -> dict[str, float | None]:
    web, meta = cap.web, cap.meta
    req, resp = web.get("request") or {}, web.get("response") or {}
    start = (meta.client_request.timestamp_start if meta.client_request else None) or req.get("timestamp_start")
    start = start or web.get("timestamp_created")
    first_byte = meta.timestamp_first_byte or resp.get("timestamp_start")
    end = (cap.websocket_state or {}).get("timestamp_end") or resp.get("timestamp_end") or cap.error_ts
    return {"start": start, "duration_ms": _ms(start, end), "ttfb_ms": _ms(start, first_byte)}


def build_ccproxy(cap: Captured, upstream: dict[str, Any] | None, upstream_body: bytes | None) -> dict[str, Any]:
    """The `.ccproxy` object: FlowMeta's JSON plus the facts derived from bodies and timings."""
    meta, web = cap.meta, cap.web
    doc: dict[str, Any] = json.loads(json.dumps(meta.to_json(), default=str))
    client = meta.client_request
    client_body = client.body if client else cap.request_body
    request_doc = parse_json(client_body) or parse_json(cap.request_body)
    path = str((web.get("request") or {}).get("path", ""))
    ans = read_answer(upstream_body, meta.upstream_events) or read_answer(cap.response_body, meta.client_events)
    times = _times(cap)
    if client is not None:
        doc["client_request"]["timestamp_start"] = client.timestamp_start
    doc["upstream_response"] = upstream
    doc["usage"] = meta.usage or (ans.usage if ans else None)
    doc["conversation_id"] = meta.conversation_id or conversation_id(request_doc)
    answered = (meta.capacity or {}).get("answered_by")  # a capacity fallback: the model that answered
    doc["model"] = str(answered).partition("/")[2] if answered else model_of(request_doc, client.url if client else path)
    doc["stop_reason"] = ans.stop_reason if ans else None
    doc["response_model"] = ans.model if ans else None  # the model that really answered: what a cost prices
    doc["streamed"] = bool(meta.upstream_events or meta.client_events)
    doc["events"] = {"upstream": len(meta.upstream_events), "client": len(meta.client_events)}
    doc["duration_ms"], doc["ttfb_ms"] = times["duration_ms"], times["ttfb_ms"]
    doc["error"] = meta.error or cap.error or _answer_error(upstream, ans)
    if cap.websocket_messages is not None:
        doc["websocket"] = ws_summary(cap.websocket_messages, cap.websocket_state)
        create, ws_usage = socket_facts(cap.websocket_messages)
        doc["model"] = doc["model"] or model_of(create)
        doc["usage"] = doc["usage"] or ws_usage
        doc["conversation_id"] = doc["conversation_id"] or conversation_id(create)
    doc["changed"] = {
        "url": client is not None and client.url != _forwarded_url(web),
        "request_body": client is not None and client.body != cap.request_body,
        "response_body": upstream_body is not None and upstream_body != (cap.response_body or b""),
    }
    return doc


def _answer_error(upstream: dict[str, Any] | None, ans: answers.Answer | None) -> str | None:
    """A provider's error answer (4xx/5xx body, or an error event that ended a stream)."""
    if ans is None or not ans.error:
        return None
    status = (upstream or {}).get("status_code") or 0
    if status >= 400:
        return f"provider answered {status}: {ans.error}"
    return None if ans.complete else f"stream error: {ans.error}"


def _forwarded_url(web: dict[str, Any]) -> str:
    req = web.get("request") or {}
    scheme, host, port = req.get("scheme", "http"), req.get("host", ""), req.get("port")
    default = 443 if scheme == "https" else 80
    authority = f"[{host}]" if ":" in str(host) else str(host)
    authority += "" if port in (None, default) else f":{port}"
    return f"{scheme}://{authority}{req.get('path', '')}"


def _redact_doc(doc: dict[str, Any]) -> dict[str, Any]:
    req, resp, ccp = doc.get("request"), doc.get("response"), doc["ccproxy"]
    if req:
        req["headers"] = redact_headers(req.get("headers") or [])
        req["path"] = redact_path(str(req.get("path", "")))
    if resp:
        resp["headers"] = redact_headers(resp.get("headers") or [])
    if ccp.get("client_request"):
        ccp["client_request"]["headers"] = redact_headers(ccp["client_request"]["headers"])
        ccp["client_request"]["url"] = redact_url(ccp["client_request"]["url"])
    if ccp.get("upstream_response"):
        ccp["upstream_response"]["headers"] = redact_headers(ccp["upstream_response"]["headers"])
    if (ccp.get("transform") or {}).get("dest_url"):
        ccp["transform"]["dest_url"] = redact_url(ccp["transform"]["dest_url"])
    return doc


def build_record(cap: Captured) -> FlowRecord:
    """The record for one finished flow; pure apart from reading `time.time()` as a last-resort timestamp."""
    web = json.loads(json.dumps(cap.web, default=str))
    upstream, upstream_body = upstream_of(cap)
    ccp = build_ccproxy(cap, upstream, upstream_body)
    meta = cap.meta
    raw = {
        "request": [list(h) for h in (web.get("request") or {}).get("headers") or []],
        "request_path": (web.get("request") or {}).get("path"),
        "response": [list(h) for h in (web.get("response") or {}).get("headers") or []],
        "client_request": ccp["client_request"]["headers"] if ccp.get("client_request") else None,
        "client_url": ccp["client_request"]["url"] if ccp.get("client_request") else None,
        "upstream_response": upstream["headers"] if upstream else None,
        "dest_url": (ccp.get("transform") or {}).get("dest_url"),
    }
    doc = _redact_doc({**web, "ccproxy": ccp})
    parts: dict[str, bytes] = {"request": cap.request_body, "raw_headers": json.dumps(raw).encode()}
    if meta.client_request is not None:
        parts["client_request"] = meta.client_request.body
    if upstream_body is not None:
        parts["upstream_response"] = upstream_body
    if cap.response_body is not None:
        parts["response"] = cap.response_body
    if meta.upstream_events:
        parts["upstream_events"] = events_json(meta.upstream_events)
    if meta.client_events:
        parts["client_events"] = events_json(meta.client_events)
    if cap.websocket_messages is not None:
        parts[WS_PART] = messages_json(cap.websocket_messages)
    ts = float(_times(cap)["start"] or time.time())
    ordered = {name: parts[name] for name in PARTS if name in parts}  # earlier phases own shared bytes
    return FlowRecord(id=str(web["id"]), ts=ts, doc=doc, parts=ordered)
