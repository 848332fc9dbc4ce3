"""The persistent flow store: one SQLite file in the config dir, mode 0600.

Why SQLite rather than mitmproxy's flow files: listing and filtering must not read every body.
A row per flow carries a few summary columns and the flow JSON that jq sees (already masked);
bodies and event logs live in a separate table, zlib-compressed, fetched only for the flows a
command shows. WAL lets the CLI read while the daemon writes; `secure_delete` plus a WAL
truncation after a delete means cleared flows are really gone from the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ccproxy.errors import FlowError
from ccproxy.flows.record import FlowRecord

SCHEMA_VERSION = 1
COMPRESS_OVER = 512  # bytes; smaller parts are not worth a zlib header

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    method TEXT,
    host TEXT,
    path TEXT,
    status INTEGER,
    model TEXT,
    provider TEXT,
    source TEXT,
    conversation_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_ts ON flows (ts, id);
CREATE TABLE IF NOT EXISTS parts (
    flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    codec TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (flow_id, name)
);
"""


def _encode(name: str, data: bytes, seen: dict[bytes, str]) -> tuple[str, bytes]:
    """`ref` when an earlier phase has the same bytes (passthrough flows store each body once)."""
    if data and data in seen:
        return "ref", seen[data].encode()
    if data:
        seen[data] = name
    if len(data) > COMPRESS_OVER:
        packed = zlib.compress(data, 1)  # level 1: a third of the CPU of 6, a little larger
        if len(packed) < len(data):
            return "zlib", packed
    return "raw", data


class FlowStore:
    """A connection to the store; the daemon's writer and every CLI command each open their own."""

    def __init__(self, path: Path, create: bool = False) -> None:
        self.path = path
        if not create and not path.exists():
            raise FlowError(f"no flow store at {path}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            path.chmod(0o600)
        # Autocommit mode: every transaction below is explicit.
        self.db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA secure_delete = ON")
        # Per connection: in WAL mode NORMAL syncs at checkpoints, not on every commit (a flow log
        # may lose its last transactions to a power cut, never to a crash of ccproxy).
        self.db.execute("PRAGMA synchronous = NORMAL")
        if create:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").chmod(0o600)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> FlowStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------
    def put(self, records: Sequence[FlowRecord]) -> None:
        """Insert or replace records (a replayed flow is written again under the same id)."""
        rows, parts = [], []
        # One batch may hold a flow twice (a WebSocket's 101 and its end): the later record wins.
        for rec in {rec.id: rec for rec in records}.values():
            req, resp, ccp = rec.doc.get("request") or {}, rec.doc.get("response") or {}, rec.ccproxy
            rows.append((
                rec.id, rec.ts, req.get("method"), req.get("pretty_host") or req.get("host"),
                req.get("path"), resp.get("status_code"), ccp.get("model"), ccp.get("provider"),
                ccp.get("source"), ccp.get("conversation_id"),
                json.dumps(rec.doc, separators=(",", ":"), default=str),
            ))
            seen: dict[bytes, str] = {}
            for name, data in rec.parts.items():
                codec, blob = _encode(name, data, seen)
                parts.append((rec.id, name, codec, blob))
        with self.transaction() as db:
            db.executemany("DELETE FROM flows WHERE id = ?", [(r[0],) for r in rows])
            db.executemany("INSERT INTO flows VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany("INSERT INTO parts VALUES (?,?,?,?)", parts)

    def apply_retention(self, max_count: int, max_age_days: float, now: float | None = None) -> int:
        """Drop flows older than `max_age_days`, then the oldest beyond `max_count`; returns how many went."""
        cutoff = (time.time() if now is None else now) - max_age_days * 86400
        with self.transaction() as db:
            old = db.execute("DELETE FROM flows WHERE ts < ?", (cutoff,)).rowcount
            over = db.execute(
                "DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)",
                (max_count,),
            ).rowcount
        return int(old + over)

    def delete(self, ids: Iterable[str]) -> int:
        with self.transaction() as db:
            count = sum(db.execute("DELETE FROM flows WHERE id = ?", (i,)).rowcount for i in ids)
        self.scrub(vacuum=self.count() == 0)
        return count

    def delete_all(self) -> int:
        with self.transaction() as db:
            count = int(db.execute("DELETE FROM flows").rowcount)
        self.scrub(vacuum=True)
        return count

    def scrub(self, vacuum: bool = False, attempts: int = 50) -> None:
        """Make deleted bytes unrecoverable: secure_delete zeroed the pages, this empties the WAL."""
        if vacuum:
            self.db.execute("VACUUM")
        for _ in range(attempts):
            busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            time.sleep(0.02)
        raise FlowError(
            f"flows were deleted but {self.path}-wal could not be truncated (another process keeps "
            "reading the store); run `ccproxy flows clear` again once it is idle"
        )

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM flows").fetchone()[0])

    def ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM flows ORDER BY ts, id")]

    def docs_bytes(self) -> bytes:
        """All flow docs as one UTF-8 JSON array, oldest first, without parsing (or even decoding) any."""
        rows = self.db.execute("SELECT CAST(doc AS BLOB) FROM flows ORDER BY ts, id").fetchall()
        return b"[" + b",\n".join([r[0] for r in rows]) + b"]"

    def docs_text(self) -> str:
        return self.docs_bytes().decode("utf-8")

    def docs(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The docs of `ids`, in the order given (ids not in the store are skipped)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for fid, doc in self.db.execute(f"SELECT id, doc FROM flows WHERE id IN ({marks})", chunk):
                found[fid] = json.loads(doc)
        return [found[i] for i in ids if i in found]

    def parts(self, flow_id: str) -> dict[str, bytes]:
        rows = self.db.execute("SELECT name, codec, data FROM parts WHERE flow_id = ?", (flow_id,)).fetchall()
        raw = {name: (codec, bytes(data)) for name, codec, data in rows}
        out: dict[str, bytes] = {}
        for name, (codec, data) in raw.items():
            if codec == "ref":
                codec, data = raw[data.decode()]
            out[name] = zlib.decompress(data) if codec == "zlib" else data
        return out

    def match_prefix(self, prefix: str) -> list[str]:
        """Ids starting with `prefix` (case-insensitive), at most 10."""
        pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT id FROM flows WHERE id LIKE ? ESCAPE '\\' ORDER BY ts, id LIMIT 10", (pattern,)
        )
        return [r[0] for r in rows]
