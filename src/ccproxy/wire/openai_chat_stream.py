"""OpenAI Chat Completions streaming: `chat.completion.chunk` events and `[DONE]`, to and from neutral."""

from __future__ import annotations

from typing import Any

from ccproxy.wire import carry, openai_chat
from ccproxy.wire.neutral import (
    ApiError,
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Event,
    Fail,
    Finish,
    Start,
    StopReason,
    Text,
    Thinking,
    ToolCall,
    Usage,
    convert_id,
)
from ccproxy.wire.sse import SSE, encode
from ccproxy.wire.stream import Decoder, Encoder


class ChatDecoder(Decoder):
    """Finish waits for `[DONE]` (or the end) because usage comes in a chunk after `finish_reason`."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__(warnings)
        self.usage = Usage()
        self.reason: StopReason | None = None
        self.tools: dict[int, int] = {}  # OpenAI tool_calls index -> our block index

    def feed(self, sse: SSE) -> list[Event]:
        if self.over or not sse.data:
            return []
        if sse.data.strip() == "[DONE]":
            return self._complete()
        chunk: dict[str, Any] = sse.json()
        if chunk.get("error"):
            return self.fail(openai_chat.parse_error(500, chunk))
        out: list[Event] = []
        if not self.started:
            self.started = True
            out.append(Start(chunk.get("id", ""), chunk.get("model", "")))
        if chunk.get("usage"):
            self.usage = openai_chat.usage_in(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) == 0:
                out += self._choice(choice)
        return out

    def _choice(self, choice: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        delta = choice.get("delta") or {}
        if delta.get("reasoning_content"):
            out += self.append(Thinking, delta["reasoning_content"])
        if delta.get("content"):
            out += self.append(Text, delta["content"])
        for call in delta.get("tool_calls") or []:
            out += self._tool_delta(call)
        if choice.get("finish_reason"):
            self.reason = openai_chat.FINISH_IN.get(choice["finish_reason"], "end_turn")
            out += self.close_block()
        return out

    def _tool_delta(self, call: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        fn = call.get("function") or {}
        at = call.get("index", 0)
        if at not in self.tools or (call.get("id") and self.open != self.tools[at]):
            base, signature, _ = carry.unpack(call.get("id", ""))
            out += self.open_block(ToolCall(base, fn.get("name", ""), {}, signature))
            self.tools[at] = self.blocks - 1
        if fn.get("arguments"):
            out.append(Delta(self.tools[at], "arguments", fn["arguments"]))
        return out

    def _complete(self) -> list[Event]:
        if self.reason is None:
            return self.fail(ApiError("server", "the upstream stream ended without a finish_reason", 502))
        return self.finish(self.reason, self.usage) + self.end()

    def close(self) -> list[Event]:
        if not self.over and self.reason is not None:
            return self._complete()
        return super().close()


class ChatEncoder(Encoder):
    def __init__(self, options: ClientOptions) -> None:
        super().__init__(options)
        self.id = ""
        self.model = ""
        self.created = options.timestamp()
        self.tools: dict[int, int] = {}  # our block index -> OpenAI tool_calls index
        self.with_args: set[int] = set()
        self.trail = carry.ThinkingTrail()

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return encode(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _tool(self, at: int, **fields: Any) -> bytes:
        return self._chunk({"tool_calls": [{"index": at, **fields}]})

    def encode(self, event: Event) -> bytes:
        self.trail.see(event)
        if isinstance(event, Start):
            self.id, self.model = convert_id(event.id, "chatcmpl-"), event.model
            return self._chunk({"role": "assistant", "content": ""})
        if isinstance(event, BlockStart):
            if not isinstance(event.part, ToolCall):
                return b""
            at = self.tools[event.index] = len(self.tools)
            function = {"name": event.part.name, "arguments": ""}
            return self._tool(at, id=self.trail.call_id(event.part), type="function", function=function)
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            done = self.tools.get(event.index)
            if done is None or done in self.with_args:
                return b""
            return self._tool(done, function={"arguments": "{}"})
        if isinstance(event, Finish):
            out = self._chunk({}, openai_chat.FINISH_OUT[event.stop_reason])
            if self.options.include_usage:
                out += encode({**self._envelope([]), "usage": openai_chat.usage_out(event.usage)})
            return out
        if isinstance(event, Done):
            return encode("[DONE]")
        if isinstance(event, Fail):
            return encode(openai_chat.error_body(event.error))
        return b""

    def _delta(self, event: Delta) -> bytes:
        if event.kind == "text":
            return self._chunk({"content": event.text})
        if event.kind == "thinking":
            return self._chunk({"reasoning_content": event.text})
        at = self.tools.get(event.index)
        if event.kind != "arguments" or at is None or not event.text:
            return b""
        self.with_args.add(at)
        return self._tool(at, function={"arguments": event.text})
