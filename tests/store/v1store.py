"""A flow store as ccproxy wrote it with schema 1 (before the blob table), to test the upgrade.

The SQL and the part encoding are copied from `store/db.py` at schema 1 and must not change:
they stand for files that already exist on users' disks. `bench/store.py` uses it for the
"before" figures.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Sequence
from pathlib import Path

from ccproxy.store.record import FlowRecord

V1_SCHEMA = """
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
    if data and data in seen:
        return "ref", seen[data].encode()
    if data:
        seen[data] = name
    if len(data) > 512:
        packed = zlib.compress(data, 1)
        if len(packed) < len(data):
            return "zlib", packed
    return "raw", data


class V1Store:
    """The schema-1 writer: `put` and `apply_retention` exactly as they were."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA secure_delete = ON")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(V1_SCHEMA)
        self.db.execute("PRAGMA user_version = 1")

    def put(self, records: Sequence[FlowRecord]) -> None:
        rows, parts = [], []
        for rec in records:
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
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("DELETE FROM flows WHERE id = ?", [(r[0],) for r in rows])
        self.db.executemany("INSERT INTO flows VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        self.db.executemany("INSERT INTO parts VALUES (?,?,?,?)", parts)
        self.db.execute("COMMIT")

    def apply_retention(self, max_count: int) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        over = self.db.execute(
            "DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)",
            (max_count,),
        ).rowcount
        self.db.execute("COMMIT")
        return int(over)

    def close(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    def parts(self, flow_id: str) -> dict[str, bytes]:
        rows = self.db.execute("SELECT name, codec, data FROM parts WHERE flow_id = ?", (flow_id,)).fetchall()
        raw = {name: (codec, bytes(data)) for name, codec, data in rows}
        out: dict[str, bytes] = {}
        for name, (codec, data) in raw.items():
            if codec == "ref":
                codec, data = raw[data.decode()]
            out[name] = zlib.decompress(data) if codec == "zlib" else data
        return out
