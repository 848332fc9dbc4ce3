"""Hand finished flows to a writer process, so parsing bodies and disk I/O never stall the proxy.

A process rather than a thread: building a record (JSON, body parsing, compression) held the GIL
long enough to delay the event loop by milliseconds per flow (bench/proxy.py). The daemon only
pickles the capture, appends it to the journal (`ccproxy.store.spill`) and queues it; a sender thread
writes it to the child's pipe, a reader thread takes the acknowledgements. A flow stays queued until
the child says it is written, and if the child dies the queue is sent again to a new one, so a crash
of the writer loses nothing; a crash of the daemon loses nothing either, since the next start stores
what the journal holds.

When the writer falls behind (sustained load, a store locked by another process, a stopped child),
memory holds at most `max_queue` captures; the rest wait only in the journal and are fed to the
writer as it catches up. A flow is lost only when it truly cannot be stored (disk full, a capture that
kills the writer three times, a journal frame cut short by a crash); each loss is counted with its
real cause, logged, published in `<store>.status.json` and answered live by the daemon (`/health`)
for `ccproxy status`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccproxy.store.db import FlowStore
from ccproxy.store.record import Captured, FlowRecord, build_record
from ccproxy.store.spill import Spill
from ccproxy.store.writerproc import frame
from ccproxy.store.writerstatus import StatusFile

log = logging.getLogger("ccproxy.store.writer")

#: (flow id, usage, conversation id) of each written flow, called on the reader thread.
OnRecord = Callable[[str, Any, Any], None]
MAX_FAILED_STARTS = 3  # a child that dies this often without progress: drop the flow it choked on
CHILD = "ccproxy.store.writerproc"
#: The same writer, exporting each flow as an OTLP span too (telemetry sits above flows: named, not imported).
CHILD_WITH_SPANS = "ccproxy.telemetry.writer"
TELEMETRY_ENV = "CCPROXY_WRITER_TELEMETRY"  # = ccproxy.telemetry.writer.TELEMETRY_ENV
LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}
LOSS_LOG_EVERY = 5.0  # seconds between log lines about losses with the same cause


class StoreWriter:
    """A journal on disk and a bounded in-memory queue in front of the writer process: a slow disk
    never makes a client wait, and no process dying costs a flow."""

    def __init__(self, path: Path, max_count: int, max_age_days: float, max_queue: int = 1000,
                 on_record: OnRecord | None = None, max_queue_bytes: int = 64 << 20,
                 telemetry: str | None = None, max_disk_mb: float | None = None) -> None:
        self.path = path
        self.max_count = max_count
        self.max_age_days = max_age_days
        self.max_disk_mb = max_disk_mb
        #: In memory at most this many captures and bytes (agent requests are up to MBs each); the rest spill.
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.queued_bytes = 0
        self.on_record = on_record
        #: JSON for the child's OTLP export (`ccproxy.telemetry.writer`), None: no export.
        self.telemetry = telemetry
        self.lost = 0  # flows that could not be stored, whatever the cause
        self.last_loss: dict[str, Any] | None = None  # {"at": epoch, "cause": "..."}
        self.spilled = 0  # flows that waited only in the journal, memory being full (this run)
        self.undurable = 0  # flows queued in memory only, the journal refusing them (a full disk)
        self.written = 0
        self.pruned_young = 0  # flows retention removed within minutes of their capture (max_count too small)
        self.lock = threading.Condition()
        #: (frame, spill segment or None) not yet written by the child, oldest first.
        self.unacked: deque[tuple[bytes, int | None]] = deque()
        self.sent = 0  # how many of `unacked` the current child has been sent
        self.spill: Spill | None = None
        self.closing = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.failed_starts = 0
        self.status = StatusFile(path, self.stats)
        self.loss_logged_at, self.loss_logged_cause = -LOSS_LOG_EVERY, ""
        self.sender = threading.Thread(target=self._send_loop, name="ccproxy-flow-sender", daemon=True)
        self.reader: threading.Thread | None = None

    def _spill(self) -> Spill:
        if self.spill is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.spill = Spill(self.path)
            if self.spill.truncated:
                # A warning, not an error: it happened before this start, and the daemon keeps going.
                self._lose(self.spill.truncated, "a journal file ended mid-flow or was damaged (the daemon or "
                           "the host died while writing it); what it held before that is stored",
                           level=logging.WARNING)
                self.spill.truncated = 0
            if self.spill.recovered:
                log.info("flow store: %d flow(s) the last run had not stored yet are written now from the journal",
                         self.spill.recovered)
        return self.spill

    def _lose(self, count: int, cause: str, flow_id: str | None = None, level: int = logging.ERROR) -> None:
        """Count flows that cannot be stored, say why (lock held or not: counters only)."""
        self.lost += count
        self.last_loss = {"at": time.time(), "cause": cause, "flow": flow_id}
        now = time.monotonic()
        if now - self.loss_logged_at >= LOSS_LOG_EVERY or cause != self.loss_logged_cause:
            # A full disk fails every flow: one line per cause and interval, not one per flow.
            self.loss_logged_at, self.loss_logged_cause = now, cause
            which = f" (flow {flow_id[:8]})" if flow_id else ""
            log.log(level, "flow store: %d flow(s) not recorded%s, %d lost since start: %s",
                    count, which, self.lost, cause)
        self.status.publish()

    def stats(self) -> dict[str, Any]:
        spill = self.spill
        return {
            "store": str(self.path),
            "pid": os.getpid(),
            "written": self.written,
            "lost": self.lost,
            "last_loss": self.last_loss,
            "queued": len(self.unacked) + (spill.unread if spill is not None else 0),  # not stored yet
            "queued_bytes": self.queued_bytes,
            "spilled": self.spilled,
            "spill_pending": spill.unread if spill is not None else 0,  # beyond memory, only on disk
            "undurable": self.undurable,
            "pruned_young": self.pruned_young,
            "updated_at": time.time(),
        }

    def start(self) -> StoreWriter:
        with FlowStore(self.path, create=True) as store:  # 0600 file and schema exist before any flow
            removed = store.apply_retention(self.max_count, self.max_age_days)
        if removed:
            log.info("flow store: retention removed %d old flow(s)", removed)
        with self.lock:
            self._spill()  # an earlier run's spill is written first
            self._spawn()
        self.status.publish(force=True)
        self.sender.start()
        self.status.start()
        return self

    # -- the daemon's side -----------------------------------------------------------------------
    def submit(self, item: FlowRecord | Captured) -> bool:
        """Queue a record, or the raw material of one (built in the writer process). False: the flow
        is lost (counted, and the cause logged)."""
        try:
            data = frame(item)
        except Exception:  # something in the capture does not pickle: build the record here instead
            try:
                data = frame(build_record(item) if isinstance(item, Captured) else item)
            except Exception as exc:
                log.exception("a flow could not be prepared for the store")
                self._lose(1, f"the capture could not be serialized: {type(exc).__name__}: {exc}")
                return False
        with self.lock:
            spill = self._spill()
            in_memory = spill.unread == 0 and self._room()
            segment: int | None = None
            try:
                segment = spill.append(data, taken=in_memory)
            except OSError as exc:
                if not in_memory:
                    self._lose(1, f"the writer is {len(self.unacked)} flow(s) behind and the journal under "
                                  f"{self.path.parent} could not take more: {_oserror(exc)}")
                    return False
                self._undurable(exc)
            self.status.publish()
            if in_memory:
                self.unacked.append((data, segment))
                self.queued_bytes += len(data)
                self.lock.notify_all()
                return True
            self.spilled += 1
            if self.spilled == 1 or self.spilled % 1000 == 0:
                log.warning("flow store: the writer is %d flow(s) behind; %d flow(s) wait in %s (%d so far)",
                            len(self.unacked), spill.unread, spill.path(spill.write_no or 0).name, self.spilled)
            self.lock.notify_all()
            return True

    def _undurable(self, exc: OSError) -> None:
        """The journal refused a flow the writer can still take from memory: not lost, but a crash now
        would lose it; said once per 1,000."""
        if self.undurable % 1000 == 0:
            log.warning("flow store: the journal under %s refused a flow (%s); it waits in memory only until "
                        "stored (%d so far)", self.path.parent, _oserror(exc), self.undurable + 1)
        self.undurable += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything submitted so far is on disk."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self._backlog() and (left := deadline - time.monotonic()) > 0:
                self.lock.wait(left)
            return not self._backlog()

    def _room(self) -> bool:
        return len(self.unacked) < self.max_queue and (self.queued_bytes < self.max_queue_bytes or not self.unacked)

    def _backlog(self) -> int:
        return len(self.unacked) + (self.spill.unread if self.spill is not None else 0)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (bounded by `timeout`), then stop the child; what is still not written
        waits in the journal for the next start."""
        self.flush(timeout)
        with self.lock:
            self.closing = True
            self.lock.notify_all()
            proc = self.proc
        self.status.stop(timeout)
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
        with self.lock:
            spill = self._spill()
            for data, segment in self.unacked:
                if segment is None:
                    try:
                        spill.append(data)
                    except OSError as exc:
                        self._lose(1, f"unwritten at shutdown and the journal failed: {_oserror(exc)}")
            self.unacked.clear()
            self.queued_bytes = 0
            pending = spill.pending
            spill.close()
        if pending:
            log.warning("flow store: %d flow(s) not written yet wait in the journal for the next start", pending)
        self.status.publish(force=True)

    # -- threads ----------------------------------------------------------------------------------
    def _spawn(self) -> None:
        """Start a child (lock held) that will be sent every unacknowledged frame."""
        self.generation += 1
        self.sent = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", CHILD_WITH_SPANS if self.telemetry else CHILD, str(self.path),
             str(self.max_count), str(self.max_age_days), str(self.max_disk_mb or 0)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            env={**os.environ, TELEMETRY_ENV: self.telemetry} if self.telemetry else None,
        )
        self.reader = threading.Thread(
            target=self._read_loop, args=(self.proc, self.generation), name="ccproxy-flow-acks", daemon=True
        )
        self.reader.start()

    def _refill(self, limit: int = 64) -> None:
        """Move spilled frames into the in-memory queue as it empties (lock held; a few at a time, so
        reading the spill never keeps `submit` on the event loop waiting for the lock)."""
        spill = self.spill
        while spill is not None and spill.unread and self._room() and limit > 0:
            limit -= 1
            try:
                taken = spill.take()
            except OSError as exc:
                self._lose(spill.unread, f"the journal could not be read: {_oserror(exc)}")
                spill.unread = 0
                return
            if taken is None:
                break
            self.unacked.append((taken[1], taken[0]))
            self.queued_bytes += len(taken[1])
        if spill is not None and spill.truncated:
            self._lose(spill.truncated, "a journal file ended mid-flow or was damaged")
            spill.truncated = 0

    def _send_loop(self) -> None:
        while True:
            with self.lock:
                if not self.closing:  # at shutdown what is still spilled stays there for the next start
                    self._refill()
                while self.sent >= len(self.unacked) and not self.closing:
                    self.lock.wait()
                    if not self.closing:
                        self._refill()
                if self.sent >= len(self.unacked) and self.closing:
                    proc = self.proc
                    break
                proc, generation = self.proc, self.generation
                chunk = [self.unacked[i][0] for i in range(self.sent, len(self.unacked))]
                self.sent = len(self.unacked)
            assert proc is not None and proc.stdin is not None
            try:
                proc.stdin.write(b"".join(chunk))
                proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                with self.lock:  # the reader sees the child gone and starts a new one
                    if self.closing:
                        break
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
                log.log(LEVELS.get(level, logging.INFO), "%s", text)
            for flow_id, usage, conversation_id in msg.get("facts") or []:
                self.written += 1
                if self.on_record is not None:
                    try:
                        self.on_record(flow_id, usage, conversation_id)
                    except Exception:
                        log.exception("flow %s: could not update the live flow's metadata", str(flow_id)[:8])
            lost = msg.get("lost") or []
            self.pruned_young += int(msg.get("pruned_young") or 0)
            with self.lock:
                for flow_id, cause in lost:
                    self._lose(1, str(cause), str(flow_id))
                done = min(int(msg.get("done") or 0), len(self.unacked))
                for _ in range(done):
                    data, segment = self.unacked.popleft()
                    self.queued_bytes -= len(data)
                    if segment is not None and self.spill is not None:
                        self.spill.done(segment)
                self.sent = max(0, self.sent - done)
                if done:
                    self.failed_starts = 0
                self.lock.notify_all()
            self.status.publish()
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
                data, segment = self.unacked.popleft()
                self.queued_bytes -= len(data)
                if segment is not None and self.spill is not None:
                    self.spill.done(segment)
                self.failed_starts = 0
                self._lose(1, f"the writer process died {MAX_FAILED_STARTS} times on it (last exit code {code})")
            self._spawn()
            self.lock.notify_all()


def _oserror(exc: OSError) -> str:
    """`ENOSPC: No space left on device` rather than a guess about the disk."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{name + ': ' if name else ''}{exc.strerror or exc}"
