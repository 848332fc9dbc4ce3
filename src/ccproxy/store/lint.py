"""Check recorded SSE streams against their wire format's event grammar, on both sides of a transform.

A translation bug shows up as "upstream valid, client stream invalid at event 17": the provider's
stream (`upstream_events`) and the stream the client got (`client_events`) are linted separately,
each against the grammar of the format it is in (sniffed from the events, so a translated stream
is judged by the client's format). Findings number events from 1, as a reader counts them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.grammar import Checker, Finding, parse
from ccproxy.store.streams import anthropic, responses
from ccproxy.wire import codeassist


@dataclass
class StreamLint:
    format: str
    events: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def first_error(self) -> Finding | None:
        return next((f for f in self.findings if f.severity == "error"), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "events": self.events, "valid": self.valid,
                "findings": [asdict(f) for f in self.findings]}


def sniff(events: Sequence[SSEEvent]) -> str:
    """The wire format a stream is in: `anthropic`, `openai_chat`, `openai_responses`, `gemini` or `unknown`."""
    for ev in events[:5]:
        doc = parse(ev.data)
        kind = str(doc.get("type") or ev.event or "") if isinstance(doc, dict) else str(ev.event or "")
        if kind.startswith("response."):
            return "openai_responses"
        if kind in ("message_start", "content_block_start", "ping", "message_delta", "message_stop"):
            return "anthropic"
        if isinstance(doc, dict) and doc.get("object") == "chat.completion.chunk":
            return "openai_chat"
        if isinstance(doc, dict) and ("candidates" in doc or "usageMetadata" in doc):
            return "gemini"
        if codeassist.is_response(doc):
            return codeassist.FORMAT
    return "unknown"


def _code_assist(events: Sequence[SSEEvent]) -> list[Finding]:
    """Gemini's grammar, one envelope down (an error event is bare, as Google sends it)."""
    inner = []
    for ev in events:
        doc = parse(ev.data)
        data = json.dumps(doc["response"]) if codeassist.is_response(doc) else ev.data
        inner.append(SSEEvent(t=ev.t, data=data, event=ev.event))
    return _gemini(inner)


def _openai_chat(events: Sequence[SSEEvent]) -> list[Finding]:
    c = Checker()
    roles: dict[int, int] = {}
    finished: dict[int, int] = {}
    tool_ids: dict[tuple[int, int], str] = {}
    usage_at, done_at = 0, 0
    for n, ev in enumerate(events, 1):
        if done_at:
            c.bad(n, "after-done", "event after data: [DONE]")
            continue
        if ev.data.strip() == "[DONE]":
            done_at = n
            continue
        doc = c.object(n, ev)
        if doc is None:
            continue
        if doc.get("error"):
            c.bad(n, "error-event", f"error chunk: {json.dumps(doc['error'])[:120]}")
            continue
        if isinstance(doc.get("usage"), dict):
            if usage_at:
                c.bad(n, "usage", f"second usage chunk (first at event {usage_at})")
            usage_at = n
        for choice in doc.get("choices") or []:
            _chat_choice(c, n, choice, roles, finished, tool_ids)
    for index in roles.keys() - finished.keys():
        c.bad(0, "finish_reason", f"choice {index} never got a finish_reason (cut off?)")
    if not roles and events:
        c.bad(0, "role", "no chunk carried the assistant role")
    if not usage_at:
        c.bad(0, "usage", "no usage chunk (the client did not ask for stream_options.include_usage?)", "warning")
    if not done_at:
        c.bad(0, "last", "stream ended without data: [DONE]")
    return c.findings


def _chat_choice(c: Checker, n: int, choice: dict[str, Any], roles: dict[int, int], finished: dict[int, int],
                 tool_ids: dict[tuple[int, int], str]) -> None:
    index, delta = int(choice.get("index") or 0), choice.get("delta") or {}
    if index in finished and (delta.get("content") or delta.get("tool_calls")):
        c.bad(n, "after-finish", f"choice {index}: content after its finish_reason (event {finished[index]})")
    if delta.get("role"):
        if index in roles:
            c.bad(n, "role", f"choice {index}: second role chunk (first at event {roles[index]})")
        roles[index] = n
    elif index not in roles and (delta.get("content") or delta.get("tool_calls")):
        c.bad(n, "role", f"choice {index}: content before the role chunk")
        roles[index] = n
    for call in delta.get("tool_calls") or []:
        ci = call.get("index")
        seen = sorted(k[1] for k in tool_ids if k[0] == index)
        if (index, ci) not in tool_ids:
            expected = (seen[-1] + 1) if seen else 0
            if ci != expected:
                c.bad(n, "tool-index", f"choice {index}: tool_call index {ci}, expected {expected}")
            if not call.get("id") or not (call.get("function") or {}).get("name"):
                c.bad(n, "tool-start", f"choice {index}: first chunk of tool_call {ci} lacks id or function.name")
            tool_ids[(index, ci)] = str(call.get("id"))
        elif call.get("id") and call["id"] != tool_ids[(index, ci)]:
            c.bad(n, "tool-id", f"choice {index}: tool_call {ci} changed id to {call['id']!r}")
        if seen and ci is not None and ci < seen[-1] and (index, ci) in tool_ids:
            c.bad(n, "tool-index", f"choice {index}: arguments for tool_call {ci} after tool_call {seen[-1]} began",
                  "warning")
    if choice.get("finish_reason"):
        if index in finished:
            c.bad(n, "finish_reason", f"choice {index}: second finish_reason (first at event {finished[index]})")
        finished[index] = n


def _gemini(events: Sequence[SSEEvent]) -> list[Finding]:
    c = Checker()
    finished: dict[int, int] = {}
    usage = False
    for n, ev in enumerate(events, 1):
        doc = c.object(n, ev)
        if doc is None:
            continue
        if doc.get("error"):
            c.bad(n, "error-event", f"error chunk: {json.dumps(doc['error'])[:120]}")
        usage = usage or isinstance(doc.get("usageMetadata"), dict)
        for cand in doc.get("candidates") or []:
            index = int(cand.get("index") or 0)
            if index in finished and (cand.get("content") or {}).get("parts"):
                c.bad(n, "after-finish", f"candidate {index}: content after its finishReason (event {finished[index]})")
            if cand.get("finishReason"):
                if index in finished:
                    c.bad(n, "finishReason", f"candidate {index}: second finishReason")
                finished[index] = n
    if events and not finished:
        c.bad(0, "last", "no chunk carried a finishReason (cut off?)")
    if events and not usage:
        c.bad(0, "usage", "no chunk carried usageMetadata", "warning")
    return c.findings


#: Findings kept per stream.
MAX_FINDINGS = 50

_GRAMMARS = {"anthropic": anthropic, "openai_chat": _openai_chat, "openai_responses": responses, "gemini": _gemini,
             codeassist.FORMAT: _code_assist}


def lint_events(events: Sequence[SSEEvent], fmt: str | None = None) -> StreamLint:
    """One stream checked against its format's grammar (`fmt` sniffed from the events when not given)."""
    fmt = fmt or sniff(events)
    check = _GRAMMARS.get(fmt)
    if check is None:
        return StreamLint(fmt, len(events), [Finding(0, "format", "unknown stream format; not checked", "warning")])
    findings = check(events)
    if len(findings) > MAX_FINDINGS:  # a broken stream breaks every event after: the first ones say why
        rest = findings[MAX_FINDINGS:]
        severity = "error" if any(f.severity == "error" for f in rest) else "warning"
        findings = [*findings[:MAX_FINDINGS], Finding(0, "truncated", f"{len(rest)} more finding(s) not shown", severity)]
    return StreamLint(fmt, len(events), findings)


def summary(upstream: StreamLint | None, client: StreamLint | None) -> str:
    """One line a reader can act on, e.g. 'upstream valid, client stream invalid at event 17: ...'."""
    out = []
    for side, lint in (("upstream", upstream), ("client", client)):
        if lint is None:
            continue
        err = lint.first_error()
        if err is None:
            warn = len(lint.findings)
            out.append(f"{side} valid ({lint.format}, {lint.events} events" + (f", {warn} warning(s))" if warn else ")"))
        else:
            where = f"at event {err.event}" if err.event else "at the end"
            out.append(f"{side} stream invalid {where} ({lint.format}): {err.message}")
    return ", ".join(out) if out else "not streamed"
