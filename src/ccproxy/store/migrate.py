"""Upgrade a flow store written by an older ccproxy in place, once, keeping every flow byte for byte.

Schema 1 kept each part whole in a `parts` table (`raw`, `zlib`, or `ref` to an earlier phase of
the same flow). Schema 2 moves every part into the shared blob table, so the re-sent conversation
of an agent session is stored once, and turns on incremental auto-vacuum, which an existing file
only gets from a full VACUUM. The rewrite runs in one transaction: a crash leaves schema 1 intact.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import zlib
from pathlib import Path

from ccproxy.errors import FlowError
from ccproxy.store import blobs

log = logging.getLogger("ccproxy.flows")


def _v1_parts(rows: list[tuple[str, str, bytes]]) -> dict[str, bytes]:
    raw = {name: (codec, bytes(data)) for name, codec, data in rows}
    out: dict[str, bytes] = {}
    for name, (codec, data) in raw.items():
        if codec == "ref":
            codec, data = raw[data.decode()]
        out[name] = zlib.decompress(data) if codec == "zlib" else data
    return out


def upgrade(db: sqlite3.Connection, path: Path, target: int) -> None:
    """Rewrite a schema-1 store as `target` (another process may have done it meanwhile)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == target:
            db.execute("COMMIT")
            return
        if version != 1:
            raise FlowError(f"the flow store {path} has schema {version}, which this ccproxy cannot upgrade; "
                            "move the file away (or `ccproxy flows clear --all`) to start a new one")
        # Once per store, and it takes a while on a big one (seconds per 200 MB): say why start waits.
        log.info("flow store %s: upgrading schema 1 -> %d in place (once; nothing is lost)", path, target)
        db.execute("ALTER TABLE parts RENAME TO parts_v1")
        for statement in blobs.SCHEMA:
            db.execute(statement)
        flow_ids = [r[0] for r in db.execute("SELECT DISTINCT flow_id FROM parts_v1")]
        writer = blobs.BlobWriter()
        writer.begin(db)
        for fid in flow_ids:
            rows = db.execute("SELECT name, codec, data FROM parts_v1 WHERE flow_id = ? ORDER BY rowid",
                              (fid,)).fetchall()
            seen: dict[bytes, int] = {}
            for name, data in _v1_parts(rows).items():
                if data in seen:
                    writer.reference(seen[data])
                else:
                    seen[data] = writer.store(db, data)
                db.execute("INSERT INTO parts VALUES (?, ?, ?)", (fid, name, seen[data]))
            writer.flush(db)
        db.execute("DROP TABLE parts_v1")
        docs = db.execute("SELECT id, doc FROM flows").fetchall()
        db.executemany("UPDATE flows SET doc = ? WHERE id = ?",
                       [(zlib.compress(doc.encode() if isinstance(doc, str) else doc, 1), fid) for fid, doc in docs])
        db.execute(f"PRAGMA user_version = {target}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    enable_auto_vacuum(db)


def enable_auto_vacuum(db: sqlite3.Connection) -> None:
    """Turn on incremental auto-vacuum, which takes a full VACUUM on an existing file; a busy store
    keeps working without it and is tried again at the next open."""
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
