"""The two halves of a stream translation: a decoder (format SSE -> neutral events) and an encoder (back)."""

from __future__ import annotations

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
    StopReason,
    Text,
    Thinking,
    ToolCall,
    Usage,
)
from ccproxy.wire.sse import SSE

CUT_MESSAGE = "the upstream stream ended before the answer was complete"


class Decoder:
    """Reads one format's events; subclasses implement `feed` with the helpers below."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.started = False
        self.finished = False
        self.done = False
        self.failed = False
        self.open: int | None = None
        self.open_kind: str | None = None
        self.blocks = 0
        self.tool_calls = 0

    def feed(self, sse: SSE) -> list[Event]:
        raise NotImplementedError

    def close(self) -> list[Event]:
        """The upstream stream ended: complete it, or fail it if the answer was cut short."""
        if self.done or self.failed:
            return []
        if self.finished:
            self.done = True
            return [Done()]
        return self.fail(ApiError("server", CUT_MESSAGE, 502))

    @property
    def over(self) -> bool:
        return self.done or self.failed

    def fail(self, error: ApiError) -> list[Event]:
        self.failed = True
        return [Fail(error)]

    def open_block(self, part: Text | Thinking | ToolCall) -> list[Event]:
        out = self.close_block()
        self.open, self.open_kind = self.blocks, type(part).__name__
        self.blocks += 1
        if isinstance(part, ToolCall):
            self.tool_calls += 1
        out.append(BlockStart(self.open, part))
        return out

    def ensure_block(self, kind: type[Text] | type[Thinking]) -> list[Event]:
        """Open a text/thinking block unless one of that kind is already open."""
        if self.open is not None and self.open_kind == kind.__name__:
            return []
        return self.open_block(kind(""))

    def append(self, kind: type[Text] | type[Thinking], text: str) -> list[Event]:
        """Text or thinking arrived: into the open block of that kind, or a new one."""
        out = self.ensure_block(kind)
        assert self.open is not None
        out.append(Delta(self.open, "text" if kind is Text else "thinking", text))
        return out

    def close_block(self) -> list[Event]:
        if self.open is None:
            return []
        index, self.open, self.open_kind = self.open, None, None
        return [BlockStop(index)]

    def finish(self, reason: StopReason, usage: Usage, stop_sequence: str | None = None) -> list[Event]:
        out = self.close_block()
        if reason == "end_turn" and self.tool_calls:
            reason = "tool_use"
        self.finished = True
        out.append(Finish(reason, stop_sequence, usage))
        return out

    def end(self) -> list[Event]:
        self.done = True
        return [Done()]


class Encoder:
    """Writes one format's events; `encode` is called once per neutral event, in order."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def encode(self, event: Event) -> bytes:
        raise NotImplementedError
