"""Hand finished flows to a writer process, so parsing bodies and disk I/O never stall the proxy.

A process rather than a thread: building a record (JSON, body parsing, compression) held the GIL
long enough to delay the event loop by milliseconds per flow (bench/proxy.py). The daemon only
pickles the capture and queues it; a sender thread writes it to the child's pipe, a reader thread
takes the acknowledgements. A flow stays queued until the child says it is written, and if the
child dies the queue is sent again to a new one, so a crash loses nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccproxy.flows.record import Captured, FlowRecord, build_record
from ccproxy.flows.store import FlowStore
from ccproxy.flows.writerproc import frame

log = logging.getLogger("ccproxy.flows.writer")

#: (flow id, usage, conversation id) of each written flow, called on the reader thread.
OnRecord = Callable[[str, Any, Any], None]
MAX_FAILED_STARTS = 3  # a child that dies this often without progress: drop the flow it choked on


class StoreWriter:
    """A bounded queue in front of the writer process; when the disk cannot keep up, flows are
    dropped (and counted, and logged) rather than making every client wait."""

    def __init__(self, path: Path, max_count: int, max_age_days: float, max_queue: int = 1000,
                 on_record: OnRecord | None = None) -> None:
        self.path = path
        self.max_count = max_count
        self.max_age_days = max_age_days
        self.max_queue = max_queue
        self.on_record = on_record
        self.dropped = 0
        self.written = 0
        self.lock = threading.Condition()
        self.unacked: deque[bytes] = deque()  # frames not yet written by the child, oldest first
        self.sent = 0  # how many of `unacked` the current child has been sent
        self.closing = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.failed_starts = 0
        self.sender = threading.Thread(target=self._send_loop, name="ccproxy-flow-sender", daemon=True)
        self.reader: threading.Thread | None = None

    def start(self) -> StoreWriter:
        with FlowStore(self.path, create=True) as store:  # 0600 file and schema exist before any flow
            removed = store.apply_retention(self.max_count, self.max_age_days)
        if removed:
            log.info("flow store: retention removed %d old flow(s)", removed)
        with self.lock:
            self._spawn()
        self.sender.start()
        return self

    # -- the daemon's side -----------------------------------------------------------------------
    def submit(self, item: FlowRecord | Captured) -> bool:
        """Queue a record, or the raw material of one (built in the writer process)."""
        with self.lock:
            if len(self.unacked) >= self.max_queue:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    log.warning(
                        "flow store queue is full: %d flow(s) not recorded so far; the disk under %s is too slow",
                        self.dropped,
                        self.path.parent,
                    )
                return False
        try:
            data = frame(item)
        except Exception:  # something in the capture does not pickle: build the record here instead
            try:
                data = frame(build_record(item) if isinstance(item, Captured) else item)
            except Exception:
                log.exception("a flow could not be prepared for the store; it is not recorded")
                return False
        with self.lock:
            self.unacked.append(data)
            self.lock.notify_all()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything submitted so far is on disk."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.unacked and (left := deadline - time.monotonic()) > 0:
                self.lock.wait(left)
            return not self.unacked

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (bounded by `timeout`), then stop the child."""
        self.flush(timeout)
        with self.lock:
            self.closing = True
            self.lock.notify_all()
            proc = self.proc
        if self.sender.is_alive():
            self.sender.join(timeout)
        if proc is not None:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.reader is not None:
            self.reader.join(timeout)
        if self.unacked:
            log.error("flow store: %d flow(s) were still unwritten at shutdown", len(self.unacked))

    # -- threads ----------------------------------------------------------------------------------
    def _spawn(self) -> None:
        """Start a child (lock held) that will be sent every unacknowledged frame."""
        self.generation += 1
        self.sent = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ccproxy.flows.writerproc", str(self.path), str(self.max_count),
             str(self.max_age_days)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )
        self.reader = threading.Thread(
            target=self._read_loop, args=(self.proc, self.generation), name="ccproxy-flow-acks", daemon=True
        )
        self.reader.start()

    def _send_loop(self) -> None:
        while True:
            with self.lock:
                while self.sent >= len(self.unacked) and not self.closing:
                    self.lock.wait()
                if self.sent >= len(self.unacked) and self.closing:
                    proc = self.proc
                    break
                proc, generation = self.proc, self.generation
                chunk = [self.unacked[i] for i in range(self.sent, len(self.unacked))]
                self.sent = len(self.unacked)
            assert proc is not None and proc.stdin is not None
            try:
                proc.stdin.write(b"".join(chunk))
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                with self.lock:  # the reader sees the child gone and starts a new one
                    while self.generation == generation and not self.closing:
                        self.lock.wait(1.0)
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # end of input: the child writes what it has and exits

    def _read_loop(self, proc: subprocess.Popen[bytes], generation: int) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                log.error("flow store writer said something unexpected: %r", line[:200])
                continue
            for level, text in msg.get("log") or []:
                log.log(logging.ERROR if level == "error" else logging.INFO, "%s", text)
            for flow_id, usage, conversation_id in msg.get("facts") or []:
                self.written += 1
                if self.on_record is not None:
                    try:
                        self.on_record(flow_id, usage, conversation_id)
                    except Exception:
                        log.exception("flow %s: could not update the live flow's metadata", str(flow_id)[:8])
            with self.lock:
                done = min(int(msg.get("done") or 0), len(self.unacked))
                for _ in range(done):
                    self.unacked.popleft()
                self.sent = max(0, self.sent - done)
                self.failed_starts = 0
                self.lock.notify_all()
        code = proc.wait()
        with self.lock:
            if self.generation != generation:
                return
            if self.closing:
                if self.unacked:
                    log.error("flow store writer exited (code %s) at shutdown; %d flow(s) unwritten",
                              code, len(self.unacked))
                return
            self.failed_starts += 1
            log.error("flow store writer exited (code %s) with %d flow(s) unwritten; starting a new one",
                      code, len(self.unacked))
            if self.failed_starts >= MAX_FAILED_STARTS and self.unacked:
                self.unacked.popleft()
                self.failed_starts = 0
                log.error("flow store: a flow the writer failed on %d times is dropped", MAX_FAILED_STARTS)
            self._spawn()
            self.lock.notify_all()
