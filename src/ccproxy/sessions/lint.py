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


@dataclass
class Finding:
    event: int  # 1-based index of the offending event; 0 = the stream as a whole
    rule: str
    message: str
    severity: str = "error"  # "error" breaks the grammar; "warning" is legal but suspicious


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
        doc = _json(ev.data)
        kind = str(doc.get("type") or ev.event or "") if isinstance(doc, dict) else str(ev.event or "")
        if kind.startswith("response."):
            return "openai_responses"
        if kind in ("message_start", "content_block_start", "ping", "message_delta", "message_stop"):
            return "anthropic"
        if isinstance(doc, dict) and doc.get("object") == "chat.completion.chunk":
            return "openai_chat"
        if isinstance(doc, dict) and ("candidates" in doc or "usageMetadata" in doc):
            return "gemini"
    return "unknown"


def _json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


class _Checker:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def bad(self, n: int, rule: str, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(n, rule, message, severity))

    def object(self, n: int, ev: SSEEvent, typed: bool = False) -> dict[str, Any] | None:
        """The event's JSON object, or None after a finding; `typed`: the `event:` name must match its `type`."""
        doc = _json(ev.data)
        if not isinstance(doc, dict):
            self.bad(n, "json", f"data is not a JSON object: {ev.data[:60]!r}")
            return None
        if typed and ev.event and ev.event != str(doc.get("type")):
            self.bad(n, "event-name", f"`event: {ev.event}` carries data of type {str(doc.get('type'))!r}")
        return doc


_DELTA_FOR_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "mcp_tool_use": {"input_json_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "redacted_thinking": set(),
}


def _anthropic(events: Sequence[SSEEvent]) -> list[Finding]:
    c, open_blocks, closed = _Checker(), dict[int, str](), set[int]()
    state, next_index, deltas = "start", 0, 0
    for n, ev in enumerate(events, 1):
        doc = c.object(n, ev, typed=True)
        if doc is None:
            continue
        kind = str(doc.get("type"))
        if state == "stopped":
            c.bad(n, "after-stop", f"{kind} after message_stop")
            continue
        if kind == "error":
            c.bad(n, "error-event", f"stream ended by an error event: {(doc.get('error') or {}).get('message', '')}")
            state = "stopped"
            continue
        if state == "start" and kind != "message_start":
            c.bad(n, "first", f"first event is {kind}, expected message_start")
        state = "started" if state == "start" else state
        index = doc.get("index")
        if kind == "message_start":
            if n != 1:
                c.bad(n, "message_start", "message_start repeated")
        elif kind == "content_block_start":
            block = str((doc.get("content_block") or {}).get("type"))
            if index in open_blocks or index in closed:
                c.bad(n, "block-start", f"content_block_start for index {index} that was already started")
            elif index != next_index:
                c.bad(n, "block-order", f"content_block_start index {index}, expected {next_index}")
            if isinstance(index, int):
                open_blocks[index] = block
                next_index = max(next_index, index + 1)
        elif kind == "content_block_delta":
            dtype = str((doc.get("delta") or {}).get("type"))
            deltas += 1
            if index not in open_blocks:
                why = "after its content_block_stop" if index in closed else "before its content_block_start"
                c.bad(n, "delta-block", f"content_block_delta for index {index} {why}")
            elif dtype not in _DELTA_FOR_BLOCK.get(open_blocks[index], {dtype}):
                c.bad(n, "delta-type", f"{dtype} in a {open_blocks[index]} block (index {index})")
        elif kind == "content_block_stop":
            if index not in open_blocks:
                c.bad(n, "block-stop", f"content_block_stop for index {index} that is not open")
            else:
                del open_blocks[index]
                closed.add(index)
        elif kind == "message_delta":
            if open_blocks:
                c.bad(n, "unclosed-block", f"message_delta while block(s) {sorted(open_blocks)} are open")
            if state == "delta":
                c.bad(n, "message_delta", "message_delta repeated")
            if not isinstance((doc.get("usage") or {}).get("output_tokens"), int):
                c.bad(n, "usage", "message_delta without usage.output_tokens")
            state = "delta"
        elif kind == "message_stop":
            if state != "delta":
                c.bad(n, "message_stop", "message_stop without a message_delta before it")
            state = "stopped"
        elif kind != "ping":
            c.bad(n, "unknown-event", f"unknown event type {kind!r}", "warning")
    if state != "stopped":
        c.bad(0, "last", "stream ended without message_stop (cut off?)")
    if open_blocks:
        c.bad(0, "unclosed-block", f"block(s) {sorted(open_blocks)} never got content_block_stop")
    return c.findings


def _openai_chat(events: Sequence[SSEEvent]) -> list[Finding]:
    c = _Checker()
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


def _chat_choice(c: _Checker, n: int, choice: dict[str, Any], roles: dict[int, int], finished: dict[int, int],
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


def _responses(events: Sequence[SSEEvent]) -> list[Finding]:
    c = _Checker()
    items: dict[int, str] = {}
    done_items: set[int] = set()
    parts: set[tuple[int, int]] = set()
    last_seq, terminal = -1, 0
    for n, ev in enumerate(events, 1):
        doc = c.object(n, ev, typed=True)
        if doc is None:
            continue
        kind = str(doc.get("type"))
        if terminal:
            c.bad(n, "after-terminal", f"{kind} after the terminal event (event {terminal})")
            continue
        if n == 1 and kind != "response.created":
            c.bad(n, "first", f"first event is {kind}, expected response.created")
        seq = doc.get("sequence_number")
        if isinstance(seq, int):
            if seq <= last_seq:
                c.bad(n, "sequence", f"sequence_number {seq} after {last_seq}")
            last_seq = seq
        oi, ci = doc.get("output_index"), doc.get("content_index")
        if kind == "response.output_item.added":
            if oi in items:
                c.bad(n, "item-added", f"output_index {oi} added twice")
            items[int(oi or 0)] = str((doc.get("item") or {}).get("type"))
        elif kind == "response.output_item.done":
            if oi not in items:
                c.bad(n, "item-done", f"output_item.done for output_index {oi} never added")
            done_items.add(int(oi or 0))
        elif kind == "response.content_part.added":
            if oi not in items:
                c.bad(n, "part-item", f"content_part.added for output_index {oi} never added")
            parts.add((int(oi or 0), int(ci or 0)))
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            if (oi, ci) not in parts:
                c.bad(n, "delta-part", f"{kind} for output {oi} part {ci} before its content_part.added")
        elif kind == "response.function_call_arguments.delta":
            if items.get(int(oi or 0)) != "function_call":
                c.bad(n, "delta-type", f"function_call_arguments.delta for output {oi} "
                      f"of type {items.get(int(oi or 0))}")
        elif kind in ("response.completed", "response.incomplete", "response.failed", "error"):
            terminal = n
            if kind in ("response.failed", "error"):
                c.bad(n, "error-event", f"stream ended by {kind}")
            if open_items := sorted(set(items) - done_items):
                c.bad(n, "unclosed-item", f"{kind} while output item(s) {open_items} are not done")
            usage = (doc.get("response") or {}).get("usage")
            if kind == "response.completed" and not isinstance(usage, dict):
                c.bad(n, "usage", "response.completed without usage", "warning")
    if not terminal:
        c.bad(0, "last", "stream ended without response.completed / incomplete / failed (cut off?)")
    return c.findings


def _gemini(events: Sequence[SSEEvent]) -> list[Finding]:
    c = _Checker()
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

_GRAMMARS = {"anthropic": _anthropic, "openai_chat": _openai_chat, "openai_responses": _responses, "gemini": _gemini}


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
