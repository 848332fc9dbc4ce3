"""Gemini streaming (`streamGenerateContent?alt=sse`): whole response chunks, to and from neutral events.

Gemini sends each function call whole, so the encoder holds a call's argument fragments until the
call's block closes; it has no start or end marker, so the decoder ends a stream at `finishReason`
plus the end of the body.
"""

from __future__ import annotations

import json
from typing import Any

from ccproxy.wire import carry, gemini, gemini_parts
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
    dumps,
)
from ccproxy.wire.sse import SSE, encode
from ccproxy.wire.stream import Decoder, Encoder


class GeminiDecoder(Decoder):
    def __init__(self, warnings: list[str]) -> None:
        super().__init__(warnings)
        self.usage = Usage()
        self.calls = 0

    def feed(self, sse: SSE) -> list[Event]:
        if self.over or not sse.data:
            return []
        chunk: dict[str, Any] = sse.json()
        if isinstance(chunk, list):  # a JSON-array body read as one event
            return [e for c in chunk for e in self.feed(SSE(None, json.dumps(c)))]
        if chunk.get("error"):
            return self.fail(gemini.parse_error(0, chunk))
        out: list[Event] = []
        if not self.started:
            self.started = True
            out.append(Start(gemini_parts.get(chunk, "responseId") or "", gemini_parts.get(chunk, "modelVersion") or ""))
        if meta := gemini_parts.get(chunk, "usageMetadata"):
            self.usage = gemini.usage_in(meta)
        if self.finished:
            return out  # anything after finishReason can only refine usage, which was already sent
        candidate = (chunk.get("candidates") or [{}])[0]
        for part in (candidate.get("content") or {}).get("parts") or []:
            out += self._part(part)
        if reason := gemini_parts.get(candidate, "finishReason"):
            out += self.finish(gemini.FINISH_IN.get(reason, "end_turn"), self.usage)
        elif not chunk.get("candidates") and gemini_parts.get(
            gemini_parts.get(chunk, "promptFeedback") or {}, "blockReason"
        ):
            out += self.finish("content_filter", self.usage)
        return out

    def _part(self, part: dict[str, Any]) -> list[Event]:
        signature = gemini_parts.get(part, "thoughtSignature")
        if part.get("thought"):
            out = self.append(Thinking, part.get("text", ""))
            if signature and self.open is not None:
                out.append(Delta(self.open, "signature", signature))
            return out
        out = []
        if (call := gemini_parts.get(part, "functionCall")) is not None:
            self.calls += 1
            name = call.get("name", "")
            out += self.open_block(ToolCall(call.get("id") or f"call_{self.calls}_{name}", name, {}, signature))
            assert self.open is not None
            out.append(Delta(self.open, "arguments", dumps(call.get("args") or {})))
            return out + self.close_block()
        if signature and self.open_kind == "Thinking" and self.open is not None:
            out.append(Delta(self.open, "signature", signature))
        if "text" in part:
            return out + (self.append(Text, part["text"]) if part["text"] else [])
        self.warnings.append(f"streamed part with keys {sorted(part)} cannot be translated; dropped")
        return out


class GeminiEncoder(Encoder):
    def __init__(self, options: ClientOptions) -> None:
        super().__init__(options)
        self.id = ""
        self.model = ""
        self.calls: dict[int, tuple[ToolCall, list[str]]] = {}
        self.signatures: dict[int, list[str]] = {}
        self.trail = carry.ThinkingTrail()  # signed thinking rides in the next call's id (see carry)

    def _chunk(self, parts: list[dict[str, Any]], **extra: Any) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if "finishReason" in extra:
            candidate["finishReason"] = extra.pop("finishReason")
        body = {"candidates": [candidate], **extra, "modelVersion": self.model, "responseId": self.id}
        return encode(body)

    def encode(self, event: Event) -> bytes:
        self.trail.see(event)
        if isinstance(event, Start):
            self.id, self.model = event.id, event.model
            return b""
        if isinstance(event, BlockStart):
            if isinstance(event.part, ToolCall):
                call = event.part
                packed = ToolCall(self.trail.call_id(call), call.name, call.arguments, call.signature)
                self.calls[event.index] = (packed, [])
            elif isinstance(event.part, Thinking):
                self.signatures[event.index] = []
            return b""
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            return self._stop(event.index)
        if isinstance(event, Finish):
            reason = gemini.FINISH_OUT[event.stop_reason]
            return self._chunk(
                [{"text": ""}], finishReason=reason, usageMetadata=gemini.usage_out(event.usage)
            )
        if isinstance(event, Fail):
            return encode(gemini.error_body(event.error))
        if isinstance(event, Done):
            return b""
        return b""

    def _delta(self, event: Delta) -> bytes:
        if event.kind == "text":
            return self._chunk([{"text": event.text}])
        if event.kind == "thinking":
            return self._chunk([{"text": event.text, "thought": True}])
        if event.kind == "signature" and event.index in self.signatures:
            self.signatures[event.index].append(event.text)
        elif event.kind == "arguments" and event.index in self.calls:
            self.calls[event.index][1].append(event.text)
        return b""

    def _stop(self, index: int) -> bytes:
        if index in self.signatures:
            signature = "".join(self.signatures.pop(index))
            return (
                self._chunk([{"text": "", "thought": True, "thoughtSignature": signature}])
                if signature
                else b""
            )
        if index not in self.calls:
            return b""
        call, fragments = self.calls.pop(index)
        raw = "".join(fragments)
        try:
            args = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            args = {"_unparsed_arguments": raw}
        part: dict[str, Any] = {"functionCall": {"id": call.id, "name": call.name, "args": args}}
        if call.signature:
            part["thoughtSignature"] = call.signature
        return self._chunk([part])
