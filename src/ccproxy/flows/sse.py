"""Incremental SSE parsing: bytes in, complete events out, as they arrive."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ccproxy.flows.meta import SSEEvent


@dataclass
class SSEParser:
    """Feed chunks; get back the events they completed (a blank line ends an event)."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, chunk: bytes, now: float | None = None) -> list[SSEEvent]:
        self.buffer += chunk.replace(b"\r\n", b"\n")
        stamp = time.time() if now is None else now
        events: list[SSEEvent] = []
        while (end := self.buffer.find(b"\n\n")) != -1:
            block = bytes(self.buffer[:end]).decode("utf-8", "replace")
            del self.buffer[: end + 2]
            event = parse_block(block, stamp)
            if event is not None:
                events.append(event)
        return events


def parse_block(block: str, stamp: float) -> SSEEvent | None:
    name: str | None = None
    data: list[str] = []
    for line in block.split("\n"):
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
    return SSEEvent(t=stamp, data="\n".join(data), event=name)
