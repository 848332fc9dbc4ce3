"""Opaque provider state that must come back on the next turn, carried inside the tool-call id.

Gemini 3 refuses a follow-up turn whose function call lost the `thoughtSignature` it was issued
("Function call is missing a thought_signature"), and Anthropic with thinking enabled refuses a
tool loop whose assistant turn lost its signed thinking block. OpenAI Chat, Responses and
Anthropic clients have no field for a Gemini signature, and Chat clients none for a signed
thinking block, but every client sends a tool-call id back verbatim (on the assistant's call and
on the tool result). So ccproxy appends what must come back to the id it gives the client:

    <original id>__cc1_<base64url(zlib(json))>

Only `[A-Za-z0-9_-]` is used: the characters Anthropic allows in a `tool_use` id. Readers strip
the suffix again, so the upstream only ever sees its own id.

When it does not come back (a client that renames tool calls, history from another model), the
request is still made to work, and the loss is reported as a `Loss` warning: Gemini 3 gets the
placeholder Google documents for calls it did not make; Anthropic gets the turn with thinking off.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from ccproxy.wire.neutral import (
    BlockStart,
    Delta,
    Event,
    Loss,
    Message,
    Part,
    Thinking,
    ToolCall,
)

MARK = "__cc1_"

THINKING_LOST = Loss(
    "the assistant turn with tool calls came back without its signed thinking block (the client "
    "did not send it back, or changed the tool-call ids ccproxy gave it); Anthropic refuses such a "
    "tool loop with thinking enabled, so thinking was turned off for this request"
)


def signed(parts: list[Part]) -> list[Thinking]:
    """The thinking a provider needs back: signed or redacted blocks (plain text is only for display)."""
    return [p for p in parts if isinstance(p, Thinking) and (p.signature or p.redacted is not None)]


def pack(call_id: str, signature: str | None = None, thinking: list[Thinking] | None = None) -> str:
    """The id to give the client: the original, plus what must come back, if anything."""
    doc: dict[str, Any] = {}
    if signature:
        doc["s"] = signature
    if thinking:
        doc["t"] = [[t.text, t.signature, t.redacted] for t in thinking]
    if not doc:
        return call_id
    raw = zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)
    return call_id + MARK + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unpack(packed: str) -> tuple[str, str | None, list[Thinking]]:
    """(original id, Gemini signature, thinking blocks) from an id `pack` made; plain ids pass through."""
    call_id, mark, payload = packed.partition(MARK)
    if not mark:
        return packed, None, []
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        doc = json.loads(zlib.decompress(raw))
        thinking = [Thinking(str(t[0]), t[1], t[2]) for t in doc.get("t") or []]
        signature = doc.get("s")
    except (ValueError, zlib.error, TypeError, IndexError, AttributeError):
        return call_id, None, []
    return call_id, signature if isinstance(signature, str) else None, thinking


def call_in(call_id: str, name: str, arguments: dict[str, Any]) -> tuple[ToolCall, list[Thinking]]:
    """A client's tool call, with the signature and thinking its id carried restored."""
    base, signature, thinking = unpack(call_id)
    return ToolCall(base, name, arguments, signature), thinking


def result_id(call_id: str) -> str:
    return unpack(call_id)[0]


def restore_thinking(message: Message, thinking: list[Thinking]) -> None:
    """Put carried thinking first in an assistant message, unless the client sent it back itself."""
    if not thinking or signed(message.parts):
        return
    rest = [p for p in message.parts if not isinstance(p, Thinking)]  # the same text, unsigned
    message.parts = [*thinking, *rest]


def calls_out(parts: list[Part], with_thinking: bool) -> list[tuple[ToolCall, str]]:
    """Each tool call with the id the client gets; the first call also carries the signed thinking."""
    thinking = signed(parts) if with_thinking else []
    out = []
    for call in (p for p in parts if isinstance(p, ToolCall)):
        out.append((call, pack(call.id, call.signature, thinking)))
        thinking = []
    return out


class ThinkingTrail:
    """Follows a neutral stream so an encoder can pack the thinking before a tool call into its id."""

    def __init__(self) -> None:
        self.blocks: dict[int, Thinking] = {}

    def see(self, event: Event) -> None:
        if isinstance(event, BlockStart) and isinstance(event.part, Thinking):
            part = event.part
            self.blocks[event.index] = Thinking(part.text, part.signature, part.redacted)
        elif isinstance(event, Delta) and event.index in self.blocks:
            block = self.blocks[event.index]
            if event.kind == "thinking":
                block.text += event.text
            elif event.kind == "signature":
                block.signature = (block.signature or "") + event.text

    def call_id(self, call: ToolCall) -> str:
        """The client's id for a call starting now; thinking seen so far goes with the first one."""
        thinking = signed(list(self.blocks.values()))
        self.blocks.clear()
        return pack(call.id, call.signature, thinking)


# --- when it did not come back ----------------------------------------------------------------


def loop_lost_thinking(messages: list[dict[str, Any]]) -> bool:
    """Mid tool loop, does the assistant turn with the calls lack the signed thinking it must start with?

    With thinking enabled Anthropic refuses a final assistant turn with tool calls that does not
    start with a thinking block; with thinking off the same history is accepted.
    """
    last = messages[-1] if messages else None
    if last is None or last["role"] != "user" or not any(b["type"] == "tool_result" for b in last["content"]):
        return False
    turn = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if turn is None or not any(b["type"] == "tool_use" for b in turn["content"]):
        return False
    return turn["content"][0]["type"] not in ("thinking", "redacted_thinking")


#: The value Google documents for function calls Gemini 3 did not make (another model's history).
SKIP_SIGNATURE = "skip_thought_signature_validator"
SIGNATURE_LOST = Loss(
    "a function call in the current turn has no Gemini thought signature (the client dropped or "
    "changed the tool-call id ccproxy gave it, or another model made the call); sent Google's "
    f"{SKIP_SIGNATURE!r} placeholder, which Gemini 3 accepts with degraded reasoning"
)


def signs_calls(model: str) -> bool:
    """Gemini 3 and later refuse a current-turn function call without its thought signature."""
    found = re.search(r"gemini-(\d+)", model)
    return found is not None and int(found[1]) >= 3


def sign_current_turn(contents: list[dict[str, Any]], warnings: list[str]) -> None:
    """Give the first call of each model step since the user last spoke a signature, as Gemini 3 checks.

    (Parallel calls: only the first carries one.) A lost signature gets the documented placeholder.
    """
    for content in reversed(contents):
        parts = content["parts"]
        if content["role"] == "user" and any("functionResponse" not in p for p in parts):
            return
        first = next((p for p in parts if "functionCall" in p), None)
        if content["role"] == "model" and first is not None and not first.get("thoughtSignature"):
            first["thoughtSignature"] = SKIP_SIGNATURE
            if SIGNATURE_LOST not in warnings:
                warnings.append(SIGNATURE_LOST)
