"""A response while it streams: what has arrived so far (text, thinking, tool-call arguments), the
time to the first token and the output rate. Pure: the events and their arrival times in, a view out.

The rate is an estimate (about four characters a token) until the provider's final usage arrives,
and says so (`tokens_estimated`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.answer import from_events

#: An event that carries content: a non-empty string under a key the four formats put content in.
_CONTENT = re.compile(r'"(?:text|thinking|partial_json|arguments|content|delta)"\s*:\s*"[^"]')
#: The text of a live view is cut to its newest characters (a page polls it every second).
MAX_CHARS = 20_000


def first_token(events: Sequence[SSEEvent]) -> float | None:
    """When the first event with content arrived."""
    return next((e.t for e in events if _CONTENT.search(e.data)), None)


def _tail(text: str) -> str:
    return text if len(text) <= MAX_CHARS else "…" + text[-MAX_CHARS:]


def live_view(events: Sequence[SSEEvent], started: float, now: float) -> dict[str, Any]:
    """The answer so far, TTFT (ms from the request) and tokens/s since the first token."""
    answer = from_events(events)
    first = first_token(events)
    last = events[-1].t if events else now
    chars = len(answer.text) + len(answer.reasoning) + sum(len(c.arguments) for c in answer.tool_calls)
    reported = (answer.usage or {}).get("output_tokens") if answer.complete else None
    tokens = reported if reported else chars / 4
    span = (last - first) if first is not None else 0.0
    return {
        "format": answer.format,
        "text": _tail(answer.text),
        "reasoning": _tail(answer.reasoning),
        "tool_calls": [{"name": c.name, "arguments": _tail(c.arguments)} for c in answer.tool_calls],
        "events": len(events),
        "complete": answer.complete,
        "elapsed_ms": round((now - started) * 1000, 1),
        "ttft_ms": round((first - started) * 1000, 1) if first is not None else None,
        "output_tokens": round(tokens),
        "tokens_estimated": not reported,
        "tokens_per_s": round(tokens / span, 1) if span > 0 else None,
    }
