"""The content-addressed blob table under the flow store: every body part and every re-sent chunk once.

A blob is named by the sha256 of the bytes it stands for and is either the bytes themselves (raw
or zlib) or a recipe (see `chunks.py`) over other blobs. `refs` counts the part rows and recipe
entries pointing at a blob; a trigger decrements it when a part row goes (including the cascade
from a deleted flow) and `sweep` frees what nothing points at any more, recipes first. Reading a
part checks the rebuilt bytes against the hash, so a broken store fails loudly instead of
answering with the wrong body.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterable

from ccproxy.errors import FlowError
from ccproxy.flows import chunks

RAW, ZLIB, RECIPE = 0, 1, 2
COMPRESS_OVER = 256  # bytes; smaller blobs are not worth a zlib header
CHUNK_OVER = 1024  # bodies smaller than this are stored whole

_DAMAGED = ("the store is damaged or from a newer ccproxy: export what still reads with `ccproxy flows dump`, "
            "then `ccproxy flows clear --all`")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS blobs (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        kind INTEGER NOT NULL,
        size INTEGER NOT NULL,
        refs INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS blobs_unused ON blobs (id) WHERE refs <= 0",
    """CREATE TABLE IF NOT EXISTS parts (
        flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        blob INTEGER NOT NULL,
        PRIMARY KEY (flow_id, name)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER IF NOT EXISTS parts_release AFTER DELETE ON parts
    BEGIN
        UPDATE blobs SET refs = refs - 1 WHERE id = OLD.blob;
    END""",
)


def _take(db: sqlite3.Connection, digest: bytes) -> int | None:
    """One more reference to the blob with `digest`, if the store has it."""
    row = db.execute("UPDATE blobs SET refs = refs + 1 WHERE hash = ? RETURNING id", (digest,)).fetchone()
    return None if row is None else int(row[0])


def _insert(db: sqlite3.Connection, digest: bytes, kind: int, size: int, data: bytes) -> int:
    row = db.execute(
        "INSERT INTO blobs (hash, kind, size, refs, data) VALUES (?, ?, ?, 1, ?) RETURNING id",
        (digest, kind, size, data),
    ).fetchone()
    return int(row[0])


def _packed(data: bytes) -> tuple[int, bytes]:
    if len(data) > COMPRESS_OVER:
        packed = zlib.compress(data, 1)  # level 1: a third of the CPU of 6, a little larger
        if len(packed) < len(data):
            return ZLIB, packed
    return RAW, data


def store(db: sqlite3.Connection, data: bytes, split: bool = True) -> int:
    """The id of a blob holding `data` (one more reference to it); call inside a write transaction."""
    digest = hashlib.sha256(data).digest()
    found = _take(db, digest)
    if found is not None:
        return found
    spans = chunks.spans(data) if split and len(data) >= CHUNK_OVER else []
    if not spans:
        kind, packed = _packed(data)
        return _insert(db, digest, kind, len(data), packed)
    ids = [store(db, data[start:end], split=False) for start, end in spans]
    return _insert(db, digest, RECIPE, len(data), chunks.encode_recipe(data, spans, ids))


def _rows(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, tuple[bytes, int, bytes]]:
    out: dict[int, tuple[bytes, int, bytes]] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 900):
        batch = wanted[start : start + 900]
        marks = ",".join("?" * len(batch))
        for bid, digest, kind, data in db.execute(
            f"SELECT id, hash, kind, data FROM blobs WHERE id IN ({marks})", batch
        ):
            out[bid] = (bytes(digest), kind, bytes(data))
    return out


def load(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, bytes]:
    """The bytes of blobs `ids`, each checked against its sha256; read inside one transaction."""
    rows = _rows(db, ids)
    recipes = {bid: chunks.decode_recipe(data) for bid, (_, kind, data) in rows.items() if kind == RECIPE}
    inner = load(db, [cid for refs, _ in recipes.values() for cid in refs]) if recipes else {}
    out: dict[int, bytes] = {}
    for bid, (digest, kind, data) in rows.items():
        if bid in recipes:
            refs, pieces = recipes[bid]
            missing = [r for r in refs if r not in inner]
            if missing:
                raise FlowError(f"flow store blob {bid} refers to missing chunk {missing[0]}; {_DAMAGED}")
            content = chunks.assemble(pieces, [inner[r] for r in refs])
        elif kind == ZLIB:
            content = zlib.decompress(data)
        elif kind == RAW:
            content = data
        else:
            raise FlowError(f"flow store blob {bid} has unknown kind {kind}; {_DAMAGED}")
        if hashlib.sha256(content).digest() != digest:
            raise FlowError(f"flow store blob {bid} does not match its sha256; {_DAMAGED}")
        out[bid] = content
    return out


def sweep(db: sqlite3.Connection) -> int:
    """Delete blobs nothing refers to, releasing what their recipes referenced; returns how many went."""
    removed = 0
    while True:
        dead = db.execute("SELECT id, kind, data FROM blobs WHERE refs <= 0").fetchall()
        if not dead:
            return removed
        released: list[tuple[int]] = []
        for _, kind, data in dead:
            if kind == RECIPE:
                released.extend((cid,) for cid in chunks.decode_recipe(bytes(data))[0])
        db.executemany("DELETE FROM blobs WHERE id = ?", [(bid,) for bid, _, _ in dead])
        db.executemany("UPDATE blobs SET refs = refs - 1 WHERE id = ?", released)
        removed += len(dead)
