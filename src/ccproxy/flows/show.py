"""One flow for a human: the four phases in order, streams reassembled, credentials masked."""

from __future__ import annotations

import json
from typing import Any

from ccproxy.flows.changes import compare_request, compare_response, side_text
from ccproxy.store.answer import Answer
from ccproxy.store.redact import redact_body, redact_raw
from ccproxy.store.stored_flow import EVICTED, StoredFlow, pretty
from ccproxy.store.times import iso
from ccproxy.store.websocket import PART as WS_PART
from ccproxy.store.websocket import har_messages
from ccproxy.store.websocket import show_lines as websocket_lines


def _usage_text(usage: dict[str, int] | None) -> str:
    if not usage:
        return "not reported"
    names = {
        "input_tokens": "in",
        "output_tokens": "out",
        "cache_read_input_tokens": "cache read",
        "cache_creation_input_tokens": "cache write",
        "reasoning_tokens": "reasoning",
        "total_tokens": "total",
    }
    return " · ".join(f"{names.get(k, k)} {v}" for k, v in usage.items())


def answer_lines(ans: Answer, first_t: float | None = None, last_t: float | None = None) -> list[str]:
    """A reassembled answer: text, tool calls, stop reason, usage."""
    lines = []
    if ans.events:
        span = f" over {(last_t - first_t) * 1000:.1f} ms" if first_t and last_t else ""
        state = "complete" if ans.complete else "INCOMPLETE (no terminal event)"
        lines.append(f"  stream: {ans.events} {ans.format} events{span}, {state}\n")
    if ans.reasoning:
        lines.append(f"  reasoning: {ans.reasoning}\n")
    if ans.text:
        lines.append("  text: " + ans.text.replace("\n", "\n        ") + "\n")
    for call in ans.tool_calls:
        lines.append(f"  tool call: {call.name}({call.arguments})" + (f" id={call.id}" if call.id else "") + "\n")
    lines.append(f"  stop reason: {ans.stop_reason or '-'}\n")
    lines.append(f"  usage: {_usage_text(ans.usage)}\n")
    if ans.error:
        lines.append(f"  error: {ans.error}\n")
    return lines


def _headers_lines(headers: list[Any] | None) -> list[str]:
    return [f"{h[0]}: {h[1]}\n" for h in headers or []]


def _body_lines(flow: StoredFlow, phase: str, raw: bool) -> list[str]:
    data = flow.raw_body(phase) if raw else flow.body(phase)
    if not data:
        return ["(body evicted by the disk budget)\n" if flow.bodies_evicted else "(empty body)\n"]
    note = []
    if raw:
        # Credentials are masked in place, which needs readable bytes: an encoded body is decoded.
        decoded = flow.body(phase) or b""
        if decoded != data:
            note, data = ["(content-encoding undone to mask credentials)\n"], decoded
        text = redact_raw(data, flow.content_type(phase)).decode("utf-8", "replace")
    else:
        text = pretty(redact_body(data, flow.content_type(phase)))
    return [*note, text if text.endswith("\n") else text + "\n"]


def _response_section(flow: StoredFlow, phase: str, side: str, raw: bool) -> list[str]:
    sub = flow.ccproxy.get("upstream_response") if phase == "upstream_response" else flow.doc.get("response")
    if not sub:
        return []
    out = [f"{sub.get('status_code')} {sub.get('reason') or ''}\n", *_headers_lines(flow.headers(phase)), "\n"]
    events = flow.events(side)
    if events and not raw:
        ans = flow.answer(side)
        if ans is not None:
            out += answer_lines(ans, events[0].t, events[-1].t)
    else:
        out += _body_lines(flow, phase, raw)
    return out


def summary_lines(flow: StoredFlow) -> list[str]:
    doc, ccp = flow.doc, flow.ccproxy
    req, resp = doc.get("request") or {}, doc.get("response") or {}
    status = f"{resp.get('status_code')} {resp.get('reason') or ''}".strip() if resp else "no response"
    lines = [f"flow {flow.id}  {req.get('method', '')} {req.get('pretty_host', '')}{req.get('path', '')}  {status}\n"]
    facts = [
        f"source {ccp.get('source')}",
        f"provider {ccp.get('provider') or '-'}",
        f"model {ccp.get('model') or '-'}",
        f"conversation {ccp.get('conversation_id') or '-'}",
        f"session {ccp.get('session_id') or '-'}",
    ]
    lines.append("  " + " · ".join(facts) + "\n")
    transform = ccp.get("transform")
    if transform:
        lines.append(f"  routing: {transform.get('mode')} ({transform.get('reason')}) -> {transform.get('dest_url')}\n")
    started = (ccp.get("client_request") or {}).get("timestamp_start") or req.get("timestamp_start")
    lines.append(
        f"  timings: started {iso(started)}, first byte {_ms(ccp.get('ttfb_ms'))}, total {_ms(ccp.get('duration_ms'))}\n"
    )
    lines.append(f"  usage: {_usage_text(ccp.get('usage'))}\n")
    if ccp.get("auth_injected"):
        lines.append("  auth: credential injected by ccproxy" + (" (refreshed)" if ccp.get("auth_refreshed") else "") + "\n")
    story = (ccp.get("extra") or {}).get("auth")
    if isinstance(story, dict):
        lines.append(f"  auth: {auth_story(story)}\n")
    lines += capacity_lines((ccp.get("extra") or {}).get("capacity"))
    if ccp.get("error"):
        lines.append(f"  error: {ccp['error']}\n")
    for warning in ccp.get("warnings") or []:
        lines.append(f"  warning: {warning}\n")
    return lines


def capacity_lines(story: Any) -> list[str]:
    """The capacity fallback of `.ccproxy.extra.capacity`: one line per attempt (see `ccproxy.addons.capacity`)."""
    if not isinstance(story, dict) or not story.get("attempts"):
        return []
    lines = []
    for a in story["attempts"]:
        delay = f", asked to wait {a['retry_delay']:g}s" if a.get("retry_delay") is not None else ""
        waited = f", after {a['waited']:g}s" if a.get("waited") else ""
        lines.append(f"  capacity attempt {a.get('n')}: {a.get('provider')}/{a.get('model')} -> "
                     f"{a.get('status')} {a.get('reason')}{delay}{waited}\n")
    end = f"answered by {story['answered_by']}" if story.get("answered_by") else f"no model answered ({story.get('stopped') or 'candidates exhausted'})"
    lines.append(f"  capacity: {end}\n")
    return lines


def auth_story(story: dict[str, Any]) -> str:
    """The 401 recovery of `.ccproxy.extra.auth` in one line (see `ccproxy.addons.auth`)."""
    how = {"refreshed": "refreshed at the token endpoint", "reread": "re-read from its source"}
    text = f"provider answered {story.get('status', 401)}"
    if story.get("renewed") in how:
        text += f"; credential {how[story['renewed']]}"
    elif story.get("renewed") == "unchanged":
        text += "; credential unchanged, so the 401 went to the client"
    if "replay_status" in story:
        text += f"; replayed once -> {story['replay_status']}"
    if story.get("error"):
        text += f"; {story['error']}"
    return text


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, (int, float)) else "-"


def _answered_locally(flow: StoredFlow) -> bool:
    """ccproxy's own answer (a refused WebSocket, a credential error): nothing reached a provider.

    A flow whose upstream failed has no provider response either, but carries mitmproxy's error."""
    doc = flow.doc
    return doc.get("response") is not None and not flow.ccproxy.get("upstream_response") and not doc.get("error")


def show_text(flow: StoredFlow, raw: bool = False) -> str:
    """The whole flow as text; `raw` prints bodies as captured (no pretty-print, no reassembly),
    with credentials masked in place like every other view."""
    ccp = flow.ccproxy
    out = summary_lines(flow)
    if flow.bodies_evicted:
        out.append(f"note: {EVICTED}\n")
    client = ccp.get("client_request")
    out.append("\n== client request (as it arrived)\n")
    if client:
        out.append(f"{client.get('method')} {client.get('url')} {client.get('http_version', '')}\n")
        out += _headers_lines(client.get("headers"))
        out += ["\n", *_body_lines(flow, "client_request", raw)]
    else:
        out.append("(no snapshot: the flow failed before ccproxy saw the request)\n")
    out.append("\n== forwarded request (changes against the client request)\n")
    if _answered_locally(flow):
        out.append("(not forwarded: ccproxy answered the client itself; see the response below)\n")
    else:
        out += side_text(compare_request(flow), "request")
    out.append("\n== provider response (as it came back)\n")
    section = _response_section(flow, "upstream_response", "upstream", raw)
    out += section or ["(none: ccproxy answered the client itself, or the flow failed before a response)\n"]
    out.append("\n== response the client got\n")
    resp_side = compare_response(flow)
    if resp_side.present and not resp_side.status and not resp_side.headers and resp_side.bodies_identical:
        out.append("identical to the provider response\n")
    else:
        out += _response_section(flow, "response", "client", raw) or ["(none)\n"]
    started = (client or {}).get("timestamp_start") or (flow.doc.get("request") or {}).get("timestamp_start")
    out += websocket_lines(ccp.get("websocket"), flow.raw_body(WS_PART), started)
    return "".join(out)


def show_json(flow: StoredFlow) -> dict[str, Any]:
    """The whole record: the flow JSON plus every phase's body (text, masked) and both event logs."""
    bodies: dict[str, Any] = {}
    for phase in ("client_request", "request", "upstream_response", "response"):
        data = flow.body(phase)
        if data is not None:
            bodies[phase] = redact_body(data, flow.content_type(phase)).decode("utf-8", "replace")
    events = {
        side: [{"t": e.t, "event": e.event, "data": e.data} for e in flow.events(side)]
        for side in ("upstream", "client")
    }
    answers = {side: (a.to_json() if (a := flow.answer(side)) else None) for side in ("upstream", "client")}
    doc = {**flow.doc, "bodies": bodies, "events": events, "answers": answers}
    if flow.bodies_evicted:
        doc["note"] = EVICTED
    if flow.raw_body(WS_PART) is not None:
        doc["websocket_messages"] = har_messages(flow.raw_body(WS_PART))  # masked
    return doc


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def message_text(first_line: str, headers: list[Any], body: bytes, content_type: str = "") -> str:
    """One HTTP message for a human (the mitmweb content views): masked headers, pretty body."""
    from ccproxy.store.redact import redact_headers

    lines = [first_line + "\n", *_headers_lines(redact_headers(headers)), "\n"]
    lines.append(pretty(redact_body(body, content_type)) if body else "(empty body)\n")
    return "".join(lines)
