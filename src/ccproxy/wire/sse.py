"""Server-sent events on the wire: one incremental reader and a writer, nothing format-specific.

The reader is the only SSE parser in ccproxy: the stream translators and the flow recorder both
use it, so a stream is framed the same way whether it is translated or recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SSE:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SSEReader:
    """Feed byte chunks as they arrive; each call returns the events those bytes completed.

    Lines end in LF, CRLF or a lone CR (the SSE spec allows all three); a blank line ends an event.
    A CR at the end of a chunk may be the first half of a CRLF: the LF that may start the next chunk
    is then not a second line ending, so a CRLF split across chunks never ends an event early.
    """

    partial: bytearray = field(default_factory=bytearray)
    lines: list[bytes] = field(default_factory=list)
    after_cr: bool = False

    def feed(self, chunk: bytes) -> list[SSE]:
        if self.after_cr:
            self.after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        self.after_cr = chunk.endswith(b"\r")
        if b"\n" not in chunk and b"\r" not in chunk:
            self.partial += chunk
            return []
        raw = (bytes(self.partial) + chunk if self.partial else chunk).splitlines(keepends=True)
        self.partial = bytearray(raw.pop()) if not raw[-1].endswith((b"\n", b"\r")) else bytearray()
        events: list[SSE] = []
        for line in raw:
            text = line.rstrip(b"\r\n")
            if text:
                self.lines.append(text)
            elif self.lines:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
        return events

    def flush(self) -> list[SSE]:
        """The stream ended: a last event missing only its blank line counts; a torn line does not."""
        torn = bool(self.partial)
        self.partial, self.after_cr = bytearray(), False
        if torn:
            self.lines = []
            return []
        event = self._dispatch() if self.lines else None
        return [event] if event is not None else []

    def _dispatch(self) -> SSE | None:
        block, self.lines = b"\n".join(self.lines), []
        return parse_block(block.decode("utf-8", "replace"))


def parse_block(block: str) -> SSE | None:
    name: str | None = None
    data: list[str] = []
    for line in block.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line or line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
    if name is None and not data:
        return None
    return SSE(name, "\n".join(data))


def encode(data: Any, event: str | None = None) -> bytes:
    """One event; `data` is JSON-encoded unless it is already text."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()
