"""Build and write records on a background thread, so parsing bodies and disk I/O never stall the proxy."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ccproxy.flows.record import Captured, FlowRecord, build_record
from ccproxy.flows.store import FlowStore

log = logging.getLogger("ccproxy.flows.writer")

BATCH = 64


class StoreWriter:
    """A bounded queue in front of one store connection; when the disk cannot keep up, flows are
    dropped (and counted, and logged) rather than making every client wait."""

    def __init__(self, path: Path, max_count: int, max_age_days: float, max_queue: int = 1000,
                 on_record: Callable[[Captured, FlowRecord], None] | None = None) -> None:
        self.path = path
        self.max_count = max_count
        self.max_age_days = max_age_days
        self.on_record = on_record
        self.queue: queue.Queue[FlowRecord | Captured | None] = queue.Queue(maxsize=max_queue)
        self.dropped = 0
        self.written = 0
        self.store: FlowStore | None = None
        self.thread = threading.Thread(target=self._run, name="ccproxy-flow-store", daemon=True)

    def start(self) -> StoreWriter:
        self.store = FlowStore(self.path, create=True)
        removed = self.store.apply_retention(self.max_count, self.max_age_days)
        if removed:
            log.info("flow store: retention removed %d old flow(s)", removed)
        self.thread.start()
        return self

    def submit(self, item: FlowRecord | Captured) -> bool:
        """Queue a record, or the raw material of one (built on the writer thread)."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning(
                    "flow store queue is full: %d flow(s) not recorded so far; the disk under %s is too slow",
                    self.dropped,
                    self.path.parent,
                )
            return False
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything submitted so far is on disk."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self.queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(timeout)
        if self.store is not None and not self.thread.is_alive():
            self.store.close()
            self.store = None

    def _record(self, item: FlowRecord | Captured) -> FlowRecord | None:
        if isinstance(item, FlowRecord):
            return item
        try:
            record = build_record(item)
            if self.on_record is not None:
                self.on_record(item, record)
        except Exception:
            log.exception("flow %s: could not build its store record; it is not recorded",
                          str(item.web.get("id", "?"))[:8])
            return None
        return record

    def _take_batch(self) -> tuple[list[FlowRecord], int, bool]:
        """Up to BATCH records (blocking for the first); also how many queue items that took."""
        first = self.queue.get()
        if first is None:
            return [], 1, True
        items, stop = [first], False
        while len(items) < BATCH:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            items.append(item)
        records = [r for r in (self._record(i) for i in items) if r is not None]
        return records, len(items) + (1 if stop else 0), stop

    def _run(self) -> None:
        assert self.store is not None
        while True:
            batch, taken, stop = self._take_batch()
            try:
                if batch:
                    self.store.put(batch)
                    self.written += len(batch)
                    self.store.apply_retention(self.max_count, self.max_age_days)
            except Exception:
                log.exception("flow store: could not write %d flow(s) to %s", len(batch), self.path)
            finally:
                for _ in range(taken):
                    self.queue.task_done()
            if stop:
                return
