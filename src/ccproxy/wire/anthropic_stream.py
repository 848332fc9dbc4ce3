"""Anthropic Messages streaming: `message_start` ... `message_stop`, to and from neutral events."""

from __future__ import annotations

from typing import Any

from ccproxy.wire import anthropic, carry
from ccproxy.wire.neutral import (
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Event,
    Fail,
    Finish,
    Start,
    Text,
    Thinking,
    ToolCall,
    Usage,
    convert_id,
)
from ccproxy.wire.sse import SSE, encode
from ccproxy.wire.stream import Decoder, Encoder

_DELTA_KIND = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
    "input_json_delta": ("arguments", "partial_json"),
}

_DELTA_OUT = {kind: (name, key) for name, (kind, key) in _DELTA_KIND.items()}


class AnthropicDecoder(Decoder):
    def __init__(self, warnings: list[str]) -> None:
        super().__init__(warnings)
        self.usage = Usage()
        self.upstream_open: int | None = None  # the upstream index of the block we passed on

    def feed(self, sse: SSE) -> list[Event]:
        if self.over or sse.event == "ping" or not sse.data:
            return []
        data: dict[str, Any] = sse.json()
        kind = data.get("type", sse.event)
        if kind == "error" or sse.event == "error":
            return self.fail(anthropic.parse_error(500, data))
        if kind == "message_start":
            message = data.get("message", {})
            self.usage = anthropic.usage_in(message.get("usage") or {})
            self.started = True
            return [Start(message.get("id", ""), message.get("model", ""), self.usage)]
        if kind == "content_block_start":
            return self._block_start(data.get("index", 0), data.get("content_block", {}))
        if kind == "content_block_delta":
            return self._delta(data.get("index", 0), data.get("delta", {}))
        if kind == "content_block_stop":
            if data.get("index") != self.upstream_open:
                return []
            self.upstream_open = None
            return self.close_block()
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            return self.end() if self.finished else self.finish("end_turn", self.usage) + self.end()
        return []

    def _block_start(self, index: int, block: dict[str, Any]) -> list[Event]:
        kind = block.get("type")
        part: Text | Thinking | ToolCall
        if kind == "text":
            part = Text("")
        elif kind == "thinking":
            part = Thinking("")
        elif kind == "redacted_thinking":
            part = Thinking("", None, block.get("data", ""))
        elif kind == "tool_use":
            base, signature, _ = carry.unpack(block.get("id", ""))
            part = ToolCall(base, block.get("name", ""), {}, signature)
        else:
            self.warnings.append(f"streamed content block of type {kind!r} cannot be translated; dropped")
            return []
        self.upstream_open = index
        out = self.open_block(part)
        first = block.get("text") or block.get("thinking") or ""
        if first and self.open is not None:
            out.append(Delta(self.open, "text" if kind == "text" else "thinking", first))
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        mapped = _DELTA_KIND.get(delta.get("type", ""))
        if mapped is None or index != self.upstream_open or self.open is None:
            return []
        kind, key = mapped
        return [Delta(self.open, kind, delta.get(key, ""))]  # type: ignore[arg-type]

    def _message_delta(self, data: dict[str, Any]) -> list[Event]:
        delta, usage = data.get("delta", {}), data.get("usage") or {}
        merged = {**anthropic.usage_out(self.usage), **{k: v for k, v in usage.items() if v is not None}}
        self.usage = anthropic.usage_in(merged)
        reason = anthropic.STOP_IN.get(delta.get("stop_reason") or "end_turn", "end_turn")
        return self.finish(reason, self.usage, delta.get("stop_sequence"))


class AnthropicEncoder(Encoder):
    def __init__(self, options: ClientOptions) -> None:
        super().__init__(options)
        self.index: dict[int, int] = {}
        self.started = False

    def encode(self, event: Event) -> bytes:
        if isinstance(event, Start):
            self.started = True
            message: dict[str, Any] = {
                "id": convert_id(event.id, "msg_"),
                "type": "message",
                "role": "assistant",
                "model": event.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": anthropic.usage_out(event.usage or Usage()),
            }
            return _ev("message_start", {"message": message})
        if isinstance(event, BlockStart):
            own = self.index[event.index] = len(self.index)
            return _ev("content_block_start", {"index": own, "content_block": _empty_block(event.part)})
        if isinstance(event, Delta):
            kind, key = _DELTA_OUT[event.kind]
            delta = {"type": kind, key: event.text}
            return _ev("content_block_delta", {"index": self.index.get(event.index, 0), "delta": delta})
        if isinstance(event, BlockStop):
            return _ev("content_block_stop", {"index": self.index.get(event.index, 0)})
        if isinstance(event, Finish):
            stop: dict[str, Any] = {
                "stop_reason": anthropic.STOP_OUT[event.stop_reason],
                "stop_sequence": event.stop_sequence,
            }
            return _ev("message_delta", {"delta": stop, "usage": anthropic.usage_out(event.usage)})
        if isinstance(event, Done):
            return _ev("message_stop", {})
        if isinstance(event, Fail):
            return encode(anthropic.error_body(event.error), "error")
        return b""


def _empty_block(part: Text | Thinking | ToolCall) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": ""}
    if isinstance(part, Thinking) and part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    if isinstance(part, Thinking):
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "tool_use", "id": carry.pack(part.id, part.signature), "name": part.name, "input": {}}


def _ev(kind: str, payload: dict[str, Any]) -> bytes:
    return encode({"type": kind, **payload}, kind)
