"""Recording SSE: the wire reader's events, stamped with the time their bytes arrived."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ccproxy.flowmeta import SSEEvent
from ccproxy.wire.sse import SSEReader


@dataclass
class SSEParser:
    """Feed chunks; get back the events they completed, each stamped with `now` (default: the clock)."""

    reader: SSEReader = field(default_factory=SSEReader)

    def feed(self, chunk: bytes, now: float | None = None) -> list[SSEEvent]:
        stamp = time.time() if now is None else now
        return [SSEEvent(t=stamp, data=e.data, event=e.event) for e in self.reader.feed(chunk)]
