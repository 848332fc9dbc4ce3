"""WebSocket messages of a flow: how they are stored, masked, shown and exported.

A WebSocket flow (Codex CLI's `GET /v1/responses` upgrade) is an HTTP flow whose 101 answer is
followed by messages both ways. The store keeps them in the `websocket_messages` part, already in
the shape of Chrome's HAR extension (`_webSocketMessages`): `type` send (client -> provider) or
receive, `time` (seconds since the epoch), `opcode` (1 text, 2 binary) and `data` (the text, or
the binary payload in base64). The part holds the bytes as they went over the wire; every view of
it masks credentials the way bodies are masked (`ccproxy.store.redact`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from ccproxy.store.answer import normalize_usage
from ccproxy.store.conversation import first_user_text
from ccproxy.store.redact import redact_body

PART = "websocket_messages"
TEXT, BINARY = 1, 2
#: Server events that end one Responses turn on a socket; each carries that turn's usage.
TURN_ENDS = ("response.completed", "response.incomplete", "response.failed")

#: (timestamp, from_client, opcode, content): what the recorder reads off mitmproxy's messages.
RawMessage = tuple[float, bool, int, bytes]


def to_entry(t: float, from_client: bool, opcode: int, content: bytes) -> dict[str, Any]:
    """One message in the stored (HAR `_webSocketMessages`) shape, unmasked."""
    text = opcode == TEXT
    data = content.decode("utf-8", "replace") if text else base64.b64encode(content).decode("ascii")
    return {"type": "send" if from_client else "receive", "time": t, "opcode": opcode, "data": data}


def messages_json(messages: Iterable[RawMessage]) -> bytes:
    return json.dumps([to_entry(*m) for m in messages], separators=(",", ":"), ensure_ascii=False).encode()


def messages_from_json(data: bytes | None) -> list[dict[str, Any]]:
    return list(json.loads(data)) if data else []


def raw_messages(data: bytes | None) -> list[RawMessage]:
    """The stored part back as (timestamp, from_client, opcode, content), for a restored mitmweb flow."""
    out: list[RawMessage] = []
    for e in messages_from_json(data):
        opcode, payload = int(e.get("opcode", TEXT)), str(e.get("data", ""))
        content = payload.encode() if opcode == TEXT else base64.b64decode(payload)
        out.append((float(e.get("time") or 0.0), e.get("type") == "send", opcode, content))
    return out


def mask_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A text message with credential fields of its JSON masked; binary payloads are kept as they are."""
    if entry.get("opcode") != TEXT:
        return dict(entry)
    data = str(entry.get("data", ""))
    masked = redact_body(data.encode(), "application/json").decode("utf-8", "replace")
    return {**entry, "data": masked}


def har_messages(data: bytes | None, masked: bool = True) -> list[dict[str, Any]]:
    """`_webSocketMessages` of a HAR entry (Chrome's HAR extension)."""
    entries = messages_from_json(data)
    return [mask_entry(e) for e in entries] if masked else entries


def summary(messages: list[RawMessage], state: dict[str, Any] | None) -> dict[str, Any]:
    """`.ccproxy.websocket`: counts and how the socket ended (`None` fields while it is open)."""
    state = state or {}
    sent = sum(1 for m in messages if m[1])
    return {
        "messages": len(messages),
        "sent": sent,
        "received": len(messages) - sent,
        "closed_by_client": state.get("closed_by_client"),
        "close_code": state.get("close_code"),
        "close_reason": state.get("close_reason"),
        "timestamp_end": state.get("timestamp_end"),
    }


def _json_text(message: RawMessage) -> dict[str, Any] | None:
    if message[2] != TEXT:
        return None
    try:
        doc = json.loads(message[3])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def socket_facts(messages: list[RawMessage]) -> tuple[dict[str, Any] | None, dict[str, int] | None]:
    """A Responses socket's first `response.create` with a user message (model, conversation), and its
    usage summed over turns. Codex may open with a `generate: false` warm-up that has no user message:
    the conversation is named by the first create that does."""
    first: dict[str, Any] | None = None
    spoken: dict[str, Any] | None = None
    usage: dict[str, int] = {}
    for message in messages:
        doc = _json_text(message)
        if doc is None:
            continue
        if message[1] and doc.get("type") == "response.create":
            first = first or doc
            if spoken is None and first_user_text(doc):
                spoken = doc
        elif not message[1] and doc.get("type") in TURN_ENDS:
            response = doc.get("response")
            turn = normalize_usage(response.get("usage") if isinstance(response, dict) else None)
            for key, value in (turn or {}).items():
                usage[key] = usage.get(key, 0) + value
    return spoken or first, usage or None


def _payload(entry: dict[str, Any]) -> str:
    if entry.get("opcode") == TEXT:
        return str(entry.get("data", ""))
    try:
        size = len(base64.b64decode(str(entry.get("data", "")), validate=True))
    except (binascii.Error, ValueError):
        size = -1
    return f"(binary, {size} bytes, base64) {entry.get('data', '')}"


def show_lines(ws: dict[str, Any] | None, data: bytes | None, start: float | None) -> list[str]:
    """The socket's messages for `flows show`: offset from the flow's start, direction, payload (masked)."""
    if ws is None and data is None:
        return []
    ws = ws or {}
    entries = [mask_entry(e) for e in messages_from_json(data)]
    out = [f"\n== websocket ({len(entries)} messages: {ws.get('sent', 0)} sent, {ws.get('received', 0)} received)\n"]
    for entry in entries:
        t = float(entry.get("time") or 0.0)
        offset = f"+{(t - start) * 1000:.1f} ms" if start else f"{t:.3f}"
        arrow = "client -> provider" if entry.get("type") == "send" else "provider -> client"
        out.append(f"  {offset:>12}  {arrow}  {_payload(entry)}\n")
    if ws.get("close_code") is not None:
        by = "client" if ws.get("closed_by_client") else "provider"
        reason = f" ({ws['close_reason']})" if ws.get("close_reason") else ""
        out.append(f"  closed by the {by}: {ws['close_code']}{reason}\n")
    elif entries or ws:
        out.append("  (still open when recorded)\n")
    return out
