"""The flow writer's status file: where it lives, reading it back, and the thread that keeps it fresh.

`ccproxy status` reads it when no daemon answers live (`/health`); a full disk leaves it stale, never
stops the writer.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATS_EVERY = 0.25  # seconds between refreshes of the status file while anything changes


def stats_path(store: Path) -> Path:
    """The writer's counters for `ccproxy status`, next to the store."""
    return store.with_name(store.name + ".status.json")


def read_stats(store: Path) -> dict[str, Any] | None:
    """The counters the last (or running) daemon published, or None."""
    try:
        doc = json.loads(stats_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class StatusFile:
    """Writes `stats()` to the status file now, or within `STATS_EVERY` of a change (its own thread)."""

    def __init__(self, store: Path, stats: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.stats = stats
        self.stats_at = 0.0
        self.closing = False
        self.dirty = threading.Event()  # counters changed since the status file was written
        self.stopping = threading.Event()
        self.publisher = threading.Thread(target=self._publish_loop, name="ccproxy-flow-status", daemon=True)

    def publish(self, force: bool = False) -> None:
        """Refresh the status file now (`force`) or within `STATS_EVERY` (the publisher thread); a full
        disk is not fatal here, and the daemon answers the same counters live (`/health`)."""
        from ccproxy.fileio import write_private_json

        if not force:
            self.dirty.set()
            return
        self.stats_at = time.monotonic()
        with contextlib.suppress(OSError):
            write_private_json(stats_path(self.store), self.stats())

    def _publish_loop(self) -> None:
        """Counters on disk converge within `STATS_EVERY` of the last change, a stalled writer included."""
        while True:
            self.dirty.wait()
            self.dirty.clear()
            if self.closing:
                return
            self.publish(force=True)
            self.stopping.wait(STATS_EVERY)  # at most one refresh per interval, however busy

    def start(self) -> None:
        self.publisher.start()

    def stop(self, timeout: float) -> None:
        """The thread ends (bounded by `timeout`); `publish(force=True)` still writes."""
        self.closing = True
        self.stopping.set()
        self.dirty.set()
        if self.publisher.is_alive():
            self.publisher.join(timeout)
