"""Server-sent events on the wire: an incremental reader and a writer, nothing format-specific."""

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
    """Feed byte chunks as they arrive; each call returns the events those bytes completed."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes) -> list[SSE]:
        self.buffer += chunk
        events: list[SSE] = []
        while True:
            end, skip = _boundary(self.buffer)
            if end < 0:
                return events
            block = bytes(self.buffer[:end])
            del self.buffer[: end + skip]
            event = parse_block(block.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)

    def flush(self) -> list[SSE]:
        """The stream ended: a last event missing only its blank line counts; a torn line does not."""
        block, self.buffer = bytes(self.buffer), bytearray()
        if not block.strip() or not block.endswith((b"\n", b"\r")):
            return []
        event = parse_block(block.decode("utf-8", "replace"))
        return [event] if event is not None else []


def _boundary(buffer: bytearray) -> tuple[int, int]:
    """Where the first event ends (a blank line, whatever the line endings) and how long the separator is."""
    best, skip = -1, 0
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = buffer.find(sep)
        if at != -1 and (best == -1 or at < best):
            best, skip = at, len(sep)
    return best, skip


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
