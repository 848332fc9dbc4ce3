"""The flow-store writer process: builds records from captures and writes them to SQLite.

Run by `StoreWriter` as `python -m ccproxy.flows.writerproc STORE MAX_COUNT MAX_AGE_DAYS`. Input on
stdin: length-prefixed pickles of `Captured` or `FlowRecord` from the daemon (its own child, so the
pickles are trusted). Output on stdout: one JSON line per written batch, `{"done": N, "facts":
[[id, usage, conversation_id], ...], "log": [[level, message], ...]}`; the daemon logs the messages,
so this process never touches the log file. It exits at end of input, after writing everything.
Signals from the terminal are ignored: the daemon decides when the writer stops, by closing stdin.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ccproxy.flows.record import Captured, FlowRecord, build_record
from ccproxy.flows.store import FlowStore

HEADER = struct.Struct(">I")
BATCH = 64
#: After a flow arrives, wait this long for others to share its transaction: one commit, one
#: acknowledgement and one wake-up for several flows instead of each (the writer's CPU competes
#: with the proxy's for the same cores). Flows reach the store at most this much later.
LINGER = 0.02
AGE_CHECK_EVERY = 60.0  # seconds between age-retention passes


def frame(item: Captured | FlowRecord) -> bytes:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


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
        (size,) = HEADER.unpack_from(self.buf)
        if len(self.buf) < HEADER.size + size:
            return None
        data = bytes(self.buf[HEADER.size : HEADER.size + size])
        del self.buf[: HEADER.size + size]
        return data

    def batch(self, limit: int, linger: float = 0.0) -> list[bytes]:
        """Up to `limit` frames; after the first, waits `linger` seconds for more to share its write."""
        out: list[bytes] = []
        while not out and not self.eof:
            self._fill(block=True)
            while len(out) < limit and (item := self._pop()) is not None:
                out.append(item)
        if linger and len(out) < limit and not self.eof:
            time.sleep(linger)
        self._fill(block=False)
        while len(out) < limit and (item := self._pop()) is not None:
            out.append(item)
        return out


class Retention:
    """Count retention only when over the limit and age retention once a minute: the delete scans
    the index, so running it after every batch would cost more than the write."""

    def __init__(self, store: FlowStore, max_count: int, max_age_days: float) -> None:
        self.store, self.max_count, self.max_age_days = store, max_count, max_age_days
        self.count = store.count()
        self.next_age_check = 0.0

    def after_write(self, added: int) -> int:
        self.count += added
        now = time.monotonic()
        if self.count <= self.max_count and now < self.next_age_check:
            return 0
        removed = self.store.apply_retention(self.max_count, self.max_age_days)
        self.count = self.store.count()
        self.next_age_check = now + AGE_CHECK_EVERY
        return removed


def _record(data: bytes, logs: list[list[str]]) -> FlowRecord | None:
    item: Any = None
    try:
        item = pickle.loads(data)
        return item if isinstance(item, FlowRecord) else build_record(item)
    except Exception:
        flow_id = str(item.web.get("id", "?"))[:8] if isinstance(item, Captured) else "?"
        logs.append(["error", f"flow {flow_id}: could not build its store record; it is not recorded\n"
                     + traceback.format_exc()])
        return None


def _facts(record: FlowRecord) -> list[Any]:
    ccp = record.doc.get("ccproxy") or {}
    return [record.id, ccp.get("usage"), ccp.get("conversation_id")]


def serve(store_path: Path, max_count: int, max_age_days: float) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    frames = Frames(sys.stdin.fileno())
    out = sys.stdout
    with FlowStore(store_path) as store:
        retention = Retention(store, max_count, max_age_days)
        while True:
            batch = frames.batch(BATCH, LINGER)
            if not batch:
                return
            logs: list[list[str]] = []
            records = [r for r in (_record(d, logs) for d in batch) if r is not None]
            try:
                if records:
                    store.put(records)
                    removed = retention.after_write(len(records))
                    if removed:
                        logs.append(["info", f"flow store: retention removed {removed} old flow(s)"])
            except Exception:
                logs.append(["error", f"flow store: could not write {len(records)} flow(s) to {store_path}\n"
                             + traceback.format_exc()])
                records = []
            out.write(json.dumps({"done": len(batch), "facts": [_facts(r) for r in records], "log": logs}) + "\n")
            out.flush()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
