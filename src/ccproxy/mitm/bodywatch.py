"""A watcher call for every response body chunk mitmproxy reads (`HttpStream.state_*_response_body`
wrapped), and the registry of the flows being watched; `addons/timeouts.py` arms its idle timer there."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

#: Live flows (by id) whose response body is being read, and what to call when a chunk arrives.
_BODY_WATCH: dict[str, Callable[[], None]] = {}


def watch_response_bodies() -> None:
    """Call the flow's watcher for every response body chunk mitmproxy reads, streamed or buffered.

    mitmproxy has no event per chunk of a buffered body (only `response` at its end), so a body
    stalled half way was invisible until the connection's 600 s idle limit. The two states of its
    HTTP stream that read a body are wrapped once; the wrapper only looks, then calls the original."""
    from mitmproxy.proxy.layers.http import HttpStream
    from mitmproxy.proxy.layers.http._events import ResponseData

    for name in ("state_consume_response_body", "state_stream_response_body"):
        original = getattr(HttpStream, name)
        if getattr(original, "ccproxy_watched", False):
            continue

        def watched(self: Any, event: Any, _original: Any = original) -> Iterator[Any]:
            if isinstance(event, ResponseData) and (note := _BODY_WATCH.get(self.flow.id)) is not None:
                note()
            result: Iterator[Any] = _original(self, event)
            return result

        wrapper = functools.wraps(original)(watched)
        wrapper.ccproxy_watched = True  # type: ignore[attr-defined]
        setattr(HttpStream, name, wrapper)
