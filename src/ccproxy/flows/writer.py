"""Write records to the store on a background thread, so disk I/O never stalls the proxy's event loop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from ccproxy.flows.record import FlowRecord
from ccproxy.flows.store import FlowStore

log = logging.getLogger("ccproxy.flows.writer")

BATCH = 64


class StoreWriter:
    """A bounded queue in front of one store connection; when the disk cannot keep up, flows are
    dropped (and counted, and logged) rather than making every client wait."""

    def __init__(self, path: Path, max_count: int, max_age_days: float, max_queue: int = 2000) -> None:
        self.path = path
        self.max_count = max_count
        self.max_age_days = max_age_days
        self.queue: queue.Queue[FlowRecord | None] = queue.Queue(maxsize=max_queue)
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

    def submit(self, record: FlowRecord) -> bool:
        try:
            self.queue.put_nowait(record)
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

    def _take_batch(self) -> tuple[list[FlowRecord], bool]:
        first = self.queue.get()
        if first is None:
            return [], True
        batch, stop = [first], False
        while len(batch) < BATCH:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        assert self.store is not None
        while True:
            batch, stop = self._take_batch()
            try:
                if batch:
                    self.store.put(batch)
                    self.written += len(batch)
                    self.store.apply_retention(self.max_count, self.max_age_days)
            except Exception:
                log.exception("flow store: could not write %d flow(s) to %s", len(batch), self.path)
            finally:
                for _ in range(len(batch) + (1 if stop else 0)):
                    self.queue.task_done()
            if stop:
                return
