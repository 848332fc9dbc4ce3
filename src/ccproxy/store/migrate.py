"""Upgrade a flow store written by an older ccproxy in place, once, keeping every flow byte for byte.

Schema 1 kept each part whole in a `parts` table (`raw`, `zlib`, or `ref` to an earlier phase of
the same flow). Schema 2 moves every part into the shared blob table, so the re-sent conversation
of an agent session is stored once, and turns on incremental auto-vacuum, which an existing file
only gets from a full VACUUM. Schema 3 adds the per-flow session facts (`flows.facts`). The steps
run in one transaction: a crash leaves the old schema intact.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import zlib
from collections.abc import Callable
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


def _to_2(db: sqlite3.Connection) -> None:
    """Every part into the shared blob table; docs compressed."""
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


def _to_3(db: sqlite3.Connection) -> None:
    """The per-flow session facts table. Its rows are computed from the stored bodies right after, by
    the writer process (`FlowStore.refresh_facts`), outside this lock; readers compute any still missing."""
    from ccproxy.store.facts import FACTS_SCHEMA

    for statement in FACTS_SCHEMA:
        db.execute(statement)


#: Schema version -> the step that upgrades the version before it. Appending a step (and bumping
#: `store.SCHEMA_VERSION`) is all a new schema takes; a store several versions behind runs them in order.
STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _to_2, 3: _to_3}


def upgrade(db: sqlite3.Connection, path: Path, target: int) -> None:
    """Upgrade a store to `target` in one transaction, step by step (another process may have done it meanwhile)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == target:
            db.execute("COMMIT")
            return
        steps = list(range(version + 1, target + 1))
        if version < 1 or any(v not in STEPS for v in steps):
            raise FlowError(f"the flow store {path} has schema {version}, which this ccproxy cannot upgrade; "
                            "move the file away (or `ccproxy flows clear --all`) to start a new one")
        # Once per store, and it takes a while on a big one (seconds per 200 MB): say why start waits.
        log.info("flow store %s: upgrading schema %d -> %d in place (once; nothing is lost)", path, version, target)
        for step in steps:
            STEPS[step](db)
        db.execute(f"PRAGMA user_version = {target}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    if 2 in steps:
        enable_auto_vacuum(db)


def enable_auto_vacuum(db: sqlite3.Connection) -> None:
    """Turn on incremental auto-vacuum, which takes a full VACUUM on an existing file; a busy store
    keeps working without it and is tried again at the next open."""
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
