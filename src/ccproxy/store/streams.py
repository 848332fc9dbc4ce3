"""The Anthropic Messages and OpenAI Responses stream grammars, as tables (`Grammar`) plus the
bookkeeping each event type adds (content blocks, output items). A new event type is one entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.grammar import KEEP, Checker, Finding, Grammar

_DELTA_FOR_BLOCK = {
    "text": {"text_delta", "citations_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "mcp_tool_use": {"input_json_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "redacted_thinking": set(),
}

_BLOCK_EVENTS = {"content_block_start": "message", "content_block_delta": "message", "content_block_stop": "message"}
ANTHROPIC = Grammar(
    first="message_start",
    moves={
        "start": {"message_start": "message"},
        "message": {**_BLOCK_EVENTS, "message_delta": "delta"},
        "delta": {**{k: "delta" for k in _BLOCK_EVENTS}, "message_stop": "stopped"},
    },
    misplaced={
        "message_start": ("message_start", "message_start repeated", KEEP),
        "message_delta": ("message_delta", "message_delta repeated", "delta"),
        "message_stop": ("message_stop", "message_stop without a message_delta before it", "stopped"),
    },
    anywhere=frozenset({"ping"}),
)


@dataclass
class _Blocks:
    """Anthropic content blocks by index: open (with their type) and closed."""

    open: dict[int, str] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)
    next_index: int = 0


def _block_start(c: Checker, n: int, doc: dict[str, Any], b: _Blocks) -> None:
    index, block = doc.get("index"), str((doc.get("content_block") or {}).get("type"))
    if index in b.open or index in b.closed:
        c.bad(n, "block-start", f"content_block_start for index {index} that was already started")
    elif index != b.next_index:
        c.bad(n, "block-order", f"content_block_start index {index}, expected {b.next_index}")
    if isinstance(index, int):
        b.open[index] = block
        b.next_index = max(b.next_index, index + 1)


def _block_delta(c: Checker, n: int, doc: dict[str, Any], b: _Blocks) -> None:
    index, dtype = doc.get("index"), str((doc.get("delta") or {}).get("type"))
    if index not in b.open:
        why = "after its content_block_stop" if index in b.closed else "before its content_block_start"
        c.bad(n, "delta-block", f"content_block_delta for index {index} {why}")
    elif dtype not in _DELTA_FOR_BLOCK.get(b.open[index], {dtype}):
        c.bad(n, "delta-type", f"{dtype} in a {b.open[index]} block (index {index})")


def _block_stop(c: Checker, n: int, doc: dict[str, Any], b: _Blocks) -> None:
    index = doc.get("index")
    if index not in b.open:
        c.bad(n, "block-stop", f"content_block_stop for index {index} that is not open")
    else:
        del b.open[index]
        b.closed.add(index)


def _message_delta(c: Checker, n: int, doc: dict[str, Any], b: _Blocks) -> None:
    if b.open:
        c.bad(n, "unclosed-block", f"message_delta while block(s) {sorted(b.open)} are open")
    if not isinstance((doc.get("usage") or {}).get("output_tokens"), int):
        c.bad(n, "usage", "message_delta without usage.output_tokens")


#: What each Anthropic event type adds to the grammar's check: the bookkeeping of its blocks.
_ANTHROPIC_CHECKS = {"content_block_start": _block_start, "content_block_delta": _block_delta,
                     "content_block_stop": _block_stop, "message_delta": _message_delta}


def anthropic(events: Sequence[SSEEvent]) -> list[Finding]:
    c, blocks, state = Checker(), _Blocks(), "start"
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
        if state == "start" and kind != ANTHROPIC.first:
            c.bad(n, "first", f"first event is {kind}, expected {ANTHROPIC.first}")
            state = "message"
        if (check := _ANTHROPIC_CHECKS.get(kind)) is not None:
            check(c, n, doc, blocks)
        state = ANTHROPIC.step(c, n, state, kind)
    if state != "stopped":
        c.bad(0, "last", "stream ended without message_stop (cut off?)")
    if blocks.open:
        c.bad(0, "unclosed-block", f"block(s) {sorted(blocks.open)} never got content_block_stop")
    return c.findings


_TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")
RESPONSES = Grammar(
    first="response.created",
    moves={
        "start": {"response.created": "open"},
        "open": {kind: "done" for kind in _TERMINAL},
    },
    unknown_ok=True,  # Responses has many informational events (in_progress, *.done, reasoning, ...)
)


@dataclass
class _Items:
    """Responses output items by index (with their type), the ones done, and content parts."""

    added: dict[int, str] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    parts: set[tuple[int, int]] = field(default_factory=set)


def _item_added(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    oi = doc.get("output_index")
    if oi in it.added:
        c.bad(n, "item-added", f"output_index {oi} added twice")
    it.added[int(oi or 0)] = str((doc.get("item") or {}).get("type"))


def _item_done(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    oi = doc.get("output_index")
    if oi not in it.added:
        c.bad(n, "item-done", f"output_item.done for output_index {oi} never added")
    it.done.add(int(oi or 0))


def _part_added(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    oi, ci = doc.get("output_index"), doc.get("content_index")
    if oi not in it.added:
        c.bad(n, "part-item", f"content_part.added for output_index {oi} never added")
    it.parts.add((int(oi or 0), int(ci or 0)))


def _part_delta(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    oi, ci = doc.get("output_index"), doc.get("content_index")
    if (oi, ci) not in it.parts:
        c.bad(n, "delta-part", f"{doc.get('type')} for output {oi} part {ci} before its content_part.added")


def _arguments_delta(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    oi = int(doc.get("output_index") or 0)
    if it.added.get(oi) != "function_call":
        c.bad(n, "delta-type", f"function_call_arguments.delta for output {doc.get('output_index')} "
              f"of type {it.added.get(oi)}")


def _terminal(c: Checker, n: int, doc: dict[str, Any], it: _Items) -> None:
    kind = str(doc.get("type"))
    if kind in ("response.failed", "error"):
        c.bad(n, "error-event", f"stream ended by {kind}")
    if open_items := sorted(set(it.added) - it.done):
        c.bad(n, "unclosed-item", f"{kind} while output item(s) {open_items} are not done")
    if kind == "response.completed" and not isinstance((doc.get("response") or {}).get("usage"), dict):
        c.bad(n, "usage", "response.completed without usage", "warning")


#: What each Responses event type adds to the grammar's check: the bookkeeping of items and parts.
_RESPONSES_CHECKS = {
    "response.output_item.added": _item_added, "response.output_item.done": _item_done,
    "response.content_part.added": _part_added, "response.output_text.delta": _part_delta,
    "response.refusal.delta": _part_delta, "response.function_call_arguments.delta": _arguments_delta,
    **{kind: _terminal for kind in _TERMINAL},
}


def responses(events: Sequence[SSEEvent]) -> list[Finding]:
    c, items, state, last_seq, terminal = Checker(), _Items(), "start", -1, 0
    for n, ev in enumerate(events, 1):
        doc = c.object(n, ev, typed=True)
        if doc is None:
            continue
        kind = str(doc.get("type"))
        if terminal:
            c.bad(n, "after-terminal", f"{kind} after the terminal event (event {terminal})")
            continue
        if state == "start" and kind != RESPONSES.first:
            c.bad(n, "first", f"first event is {kind}, expected {RESPONSES.first}")
            state = "open"
        seq = doc.get("sequence_number")
        if isinstance(seq, int):
            if seq <= last_seq:
                c.bad(n, "sequence", f"sequence_number {seq} after {last_seq}")
            last_seq = seq
        if (check := _RESPONSES_CHECKS.get(kind)) is not None:
            check(c, n, doc, items)
        state = RESPONSES.step(c, n, state, kind)
        terminal = n if state == "done" else 0
    if not terminal:
        c.bad(0, "last", "stream ended without response.completed / incomplete / failed (cut off?)")
    return c.findings
