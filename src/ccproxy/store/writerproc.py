"""The flow-store writer process: builds records from captures and writes them to SQLite.

Run by `StoreWriter` as `python -m ccproxy.store.writerproc STORE MAX_COUNT MAX_AGE_DAYS`. Input on
stdin: length-prefixed pickles of `Captured` or `FlowRecord` from the daemon (its own child, so the
pickles are trusted). Output on stdout: one JSON line per written batch, `{"done": N, "facts":
[[id, usage, conversation_id], ...], "lost": [[id, cause], ...], "log": [[level, message], ...]}`;
the daemon logs the messages and counts the losses, so this process never touches the log file.
A store locked by another process is waited for (the daemon spills meanwhile), never given up on;
a flow is reported lost only when writing it fails for good (disk full, a record SQLite refuses),
and then with the error itself as the cause. It exits at end of input, after writing everything.
Signals from the terminal are ignored: the daemon decides when the writer stops, by closing stdin.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ccproxy.store.db import FlowStore
from ccproxy.store.record import Captured, FlowRecord, build_record
from ccproxy.store.spill import FORMAT, HEADER, pack

BATCH = 64
#: After a flow arrives, wait this long for others to share its transaction: one commit, one
#: acknowledgement and one wake-up for several flows instead of each (the writer's CPU competes
#: with the proxy's for the same cores). Flows reach the store at most this much later.
LINGER = 0.02
AGE_CHECK_EVERY = 60.0  # seconds between age-retention passes
DISK_CHECK_EVERY = 5.0  # seconds between checks of the disk budget (`flows.retention.max_disk_mb`)
DISK_PASSES = 5
YOUNG_PRUNE = 300.0  # seconds: retention removing flows younger than this is worth a warning
WAL_PAGES = 256  # pages (of 4 KiB) of WAL between automatic checkpoints, and the size it is cut back to
WAL_MIN = 256 << 10  # bytes of WAL always allowed before `_wal_in_proportion` checkpoints
NICE = 10  # the writer's scheduling priority below the daemon's
IDLE_CHECKPOINT = 1.0  # seconds without input after which the WAL is checkpointed and truncated


def frame(item: Captured | FlowRecord) -> bytes:
    return pack(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))


class Frames:
    """Whole frames off a pipe: blocks for the first, then takes whatever else is already there."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def _fill(self, block: bool) -> None:
        if self.eof or not (block or select.select([self.fd], [], [], 0)[0]):
            return
        data = os.read(self.fd, 1 << 20)
        if data:
            self.buf += data
        else:
            self.eof = True

    def _pop(self) -> bytes | None:
        if len(self.buf) < HEADER.size:
            return None
        _, _, size = HEADER.unpack_from(self.buf)
        if len(self.buf) < HEADER.size + size:
            return None
        data = bytes(self.buf[: HEADER.size + size])
        del self.buf[: HEADER.size + size]
        return data

    def ready(self, timeout: float = 0.0) -> bool:
        """A frame is buffered, or input arrives on the pipe within `timeout` seconds."""
        return len(self.buf) >= HEADER.size or bool(select.select([self.fd], [], [], timeout)[0])

    def batch(self, limit: int, linger: float = 0.0) -> list[bytes]:
        """Up to `limit` frames; after the first, waits `linger` seconds for more to share its write."""
        out: list[bytes] = []
        # Frames already buffered first: blocking on the pipe while a whole frame waits in the buffer
        # (left over from a full batch) stalled the writer until the daemon sent something else.
        while len(out) < limit and (item := self._pop()) is not None:
            out.append(item)
        while not out and not self.eof:
            self._fill(block=True)
            while len(out) < limit and (item := self._pop()) is not None:
                out.append(item)
        # Keep draining the pipe while waiting: a sleep here left the sender blocked on a full pipe (a
        # few 40 KB frames fill it), so batches stayed small and the writer idled half its time.
        deadline = time.monotonic() + linger
        while len(out) < limit and not self.eof:
            while len(out) < limit and (item := self._pop()) is not None:
                out.append(item)
            left = deadline - time.monotonic()
            if len(out) >= limit or left <= 0 or not select.select([self.fd], [], [], left)[0]:
                break
            self._fill(block=True)
        self._fill(block=False)
        while len(out) < limit and (item := self._pop()) is not None:
            out.append(item)
        return out


class Retention:
    """Count retention only when over the limit and age retention once a minute: the delete scans
    the index, so running it after every batch would cost more than the write."""

    def __init__(self, store: FlowStore, max_count: int, max_age_days: float, max_disk_mb: float = 0) -> None:
        self.store, self.max_count, self.max_age_days = store, max_count, max_age_days
        self.max_disk = int(max_disk_mb * 1e6)
        self.next_disk_check = 0.0
        self.written_since_check = 0  # record bytes since the last disk check
        self.count = store.count()
        self.next_age_check = 0.0
        self.youngest_pruned: float | None = None  # age in seconds of the newest flow the last prune removed
        self.evicted = 0  # flows whose bodies the last disk-budget round dropped

    def after_write(self, added: int, nbytes: int = 0) -> int:
        self.count += added
        self.written_since_check += nbytes
        now = time.monotonic()
        removed = self._disk_budget(now) if self.max_disk else 0
        if self.count <= self.max_count and now < self.next_age_check:
            return removed
        self.youngest_pruned = None
        if self.count > self.max_count:
            row = self.store.db.execute("SELECT ts FROM flows ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ?",
                                        (self.max_count,)).fetchone()
            self.youngest_pruned = time.time() - float(row[0]) if row else None
        removed += self.store.apply_retention(self.max_count, self.max_age_days)
        self.count = self.store.count()
        self.next_age_check = now + AGE_CHECK_EVERY
        return removed

    def _disk_budget(self, now: float) -> int:
        """Bodies first, then whole flows, oldest first, until the store, its WAL and the journal fit
        `max_disk_mb` (checked every few seconds or each 5 % of the budget written; a few bounded passes,
        each dropping the share the excess suggests). A flow whose bodies went keeps its row and facts:
        lists, trees and cache verdicts still show it. `self.evicted`: flows that lost their bodies."""
        self.evicted = 0
        if now < self.next_disk_check and self.written_since_check < self.max_disk // 20:
            return 0
        self.next_disk_check, self.written_since_check = now + DISK_CHECK_EVERY, 0
        removed = 0
        for _ in range(DISK_PASSES):
            used = disk_bytes(self.store.path)
            if used <= self.max_disk or self.count <= 1:
                break
            share = min(0.5, (used - self.max_disk) / used + 0.05)
            with_bodies = self.store.bodies_kept()
            if with_bodies > 1:  # the newest flow keeps its bodies: it is what the user looks at now
                self.evicted += self.store.evict_bodies(min(with_bodies - 1, int(with_bodies * (1 - share))))
            else:
                removed += self.store.apply_retention(max(1, int(self.count * (1 - share))), self.max_age_days)
            self.store.reclaim(None, slack=0)  # over budget: no free pages kept for the next writes
            _checkpoint(self.store)
            self.count = self.store.count()
        return removed


def _record(data: bytes, logs: list[list[str]], lost: list[list[str]],
            spans: SpanSink | None = None) -> FlowRecord | None:
    """The record of one frame (header included); None if it cannot be built (counted in `lost`).
    `spans`: the OTLP export, handed each capture with the record built from it."""
    item: Any = None
    _, version, _ = HEADER.unpack_from(data)
    if version not in (0, FORMAT):  # a newer ccproxy's journal: its payload is not ours to guess at
        lost.append(["?", f"the journal frame has format {version}, written by another ccproxy version "
                          f"(this one reads formats 0-{FORMAT})"])
        return None
    try:
        item = pickle.loads(memoryview(data)[HEADER.size:])
        record = item if isinstance(item, FlowRecord) else build_record(item)
        if spans is not None and isinstance(item, Captured):
            spans.submit(item, record)
        return record
    except Exception as exc:
        flow_id = str(item.web.get("id", "?")) if isinstance(item, Captured) else "?"
        logs.append(["error", f"flow {flow_id[:8]}: could not build its store record\n" + traceback.format_exc()])
        older = " (a journal frame of an earlier ccproxy)" if version < FORMAT else ""
        lost.append([flow_id, f"its store record could not be built{older}: {cause(exc)}"])
        return None


def cause(exc: BaseException) -> str:
    """The error as SQLite or the OS named it (`SQLITE_FULL`, `ENOSPC`), for logs and `ccproxy status`."""
    import errno

    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorname", None):
        return f"{exc.sqlite_errorname}: {exc}"
    if isinstance(exc, OSError) and exc.errno:
        return f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def _busy(exc: BaseException) -> bool:
    """Another connection holds the store (a CLI `flows clear`, a VACUUM): wait, the daemon spills."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def write(store: Any, records: list[FlowRecord], lost: list[list[str]], say: Any = None) -> list[FlowRecord]:
    """Store `records`; returns those written. Busy: retried until it works. Other errors: the batch is
    retried flow by flow so one bad record costs only itself, and each failure goes into `lost`."""
    delay, waited_since = 0.05, 0.0
    while True:
        try:
            store.put(records)
            return records
        except Exception as exc:
            if _busy(exc):
                now = time.monotonic()
                if say is not None and now - waited_since > 60:
                    waited_since = now
                    say(f"flow store: {cause(exc)}; another process holds {getattr(store, 'path', 'the store')}, "
                        "the writer waits (flows queue up meanwhile, nothing is dropped)")
                time.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            if len(records) > 1:
                return [r for one in records for r in write(store, [one], lost, say)]
            lost.extend([r.id, cause(exc)] for r in records)
            return []


class Channel:
    """Messages to the daemon, one JSON line each; the OTLP threads log through it too."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        line = json.dumps(msg) + "\n"
        with self.lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def say(self, text: str, level: str = "error") -> None:
        """A log line for the daemon's log while no batch is acknowledged."""
        self.send({"done": 0, "log": [[level, text]]})


class SpanSink(Protocol):
    """Where each capture goes with its record besides the store (the OTLP export, `ccproxy.telemetry.writer`)."""

    def submit(self, captured: Captured, record: FlowRecord) -> None: ...

    def close(self) -> None: ...


def _facts(record: FlowRecord) -> list[Any]:
    ccp = record.doc.get("ccproxy") or {}
    return [record.id, ccp.get("usage"), ccp.get("conversation_id")]


def disk_bytes(store_path: Path) -> int:
    """What the flow store takes on disk: the store, its WAL and shared memory, the writer's journal."""
    total = 0
    for p in store_path.parent.glob(store_path.name + "*"):
        if not p.name.endswith(".status.json"):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
    return total


def _open(store_path: Path, max_count: int, max_age_days: float, say: Any,
          max_disk_mb: float = 0) -> tuple[FlowStore, Retention]:
    """The store, waited for however long it takes (a full disk, a store another process migrates):
    the flows wait in the daemon's journal meanwhile, and the log says why every minute."""
    delay, said = 0.1, -60.0
    while True:
        store: FlowStore | None = None
        try:
            store = FlowStore(store_path)
            # The WAL checkpoints every 1 MiB and is cut back to 1 MiB after it, instead of sitting at
            # 4-8 MiB next to a store that may be smaller (an idle writer truncates it to zero).
            store.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")
            store.db.execute(f"PRAGMA journal_size_limit = {WAL_PAGES * 4096}")
            return store, Retention(store, max_count, max_age_days, max_disk_mb)
        except Exception as exc:
            if store is not None:
                store.close()
            if time.monotonic() - said >= 60:
                said = time.monotonic()
                say(f"flow store: the writer cannot open {store_path}: {cause(exc)}; it retries (flows wait "
                    "in the journal meanwhile)")
            time.sleep(delay)
            delay = min(5.0, delay * 2)


def _checkpoint(store: FlowStore) -> bool:
    """The writer is idle: move the WAL into the store and cut it to zero bytes, so it does not sit at
    its high-water mark next to a small store. A reader holding a snapshot makes this a no-op."""
    with contextlib.suppress(sqlite3.Error):
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return True


def _wal_in_proportion(store: FlowStore) -> bool:
    """Checkpoint and truncate the WAL once it outgrows a quarter of the store (256 KiB at least), so a
    small store does not carry a WAL several times its size while flows keep coming."""
    try:
        wal = os.stat(f"{store.path}-wal").st_size
        main = os.stat(store.path).st_size
    except OSError:
        return False
    return wal > max(WAL_MIN, main // 4) and _checkpoint(store)


def serve(store_path: Path, max_count: int, max_age_days: float, max_disk_mb: float = 0,
          sink: Callable[[Channel], SpanSink | None] | None = None) -> None:
    """Store what arrives on stdin until it closes; `sink` builds the span export, if any."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    # The proxy first: on a busy machine the writer takes the CPU the proxy leaves, and what waits
    # meanwhile is safe in the journal.
    with contextlib.suppress(OSError):
        os.nice(NICE)
    frames = Frames(sys.stdin.fileno())
    channel = Channel()
    say = channel.say
    spans = sink(channel) if sink is not None else None
    store, retention = _open(store_path, max_count, max_age_days, say, max_disk_mb)
    with store:
        try:  # an upgraded store, or a facts version bump: computed from the stored bodies, once
            refreshed = store.refresh_facts()
            if refreshed:
                say(f"flow store: session facts computed for {refreshed} stored flow(s)", "info")
        except Exception as exc:  # readers compute missing facts themselves; flows keep being written
            say(f"flow store: computing session facts failed on {store_path}: {cause(exc)}")
        checkpointed = True
        while True:
            if not checkpointed and not frames.ready(IDLE_CHECKPOINT):
                checkpointed = _checkpoint(store)
            batch = frames.batch(BATCH, LINGER)
            if not batch:
                if spans is not None:
                    spans.close()
                return
            checkpointed = False
            logs: list[list[str]] = []
            lost: list[list[str]] = []
            records = [r for r in (_record(d, logs, lost, spans) for d in batch) if r is not None]
            pruned_young = 0
            if records:
                records = write(store, records, lost, say)
            try:
                nbytes = sum(len(p) for r in records for p in r.parts.values())
                removed = retention.after_write(len(records), nbytes) if records else 0
                young = retention.youngest_pruned
                if retention.evicted:
                    logs.append(["info", f"flow store: the disk budget (flows.retention.max_disk_mb) evicted the "
                                 f"bodies of {retention.evicted} old flow(s); their summaries and facts stay"])
                if removed and young is not None and young < YOUNG_PRUNE:
                    # A burst outgrowing max_count prunes flows the user may still be looking at: say so.
                    logs.append(["warning", f"flow store: retention removed {removed} flow(s), the newest only "
                                 f"{young:.0f} s old; flows.retention.max_count ({max_count}) is small for this "
                                 "rate of traffic"])
                    pruned_young = removed
                elif removed:
                    logs.append(["info", f"flow store: retention removed {removed} old flow(s)"])
            except Exception as exc:
                logs.append(["error", f"flow store: retention failed on {store_path}: {cause(exc)}"])
            if records:
                checkpointed = _wal_in_proportion(store) or checkpointed
            channel.send({"done": len(batch), "facts": [_facts(r) for r in records], "lost": lost, "log": logs,
                          "pruned_young": pruned_young})


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0)
