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
import struct
import zlib
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable

from ccproxy.errors import FlowError
from ccproxy.store import chunks

RAW, ZLIB, RECIPE = 0, 1, 2
COMPRESS_OVER = 256  # bytes; smaller blobs are not worth a zlib header
CHUNK_OVER = 8192  # bodies smaller than this are stored whole: splitting them costs more CPU than it saves

_DAMAGED = ("the store is damaged or from a newer ccproxy: export what still reads with `ccproxy flows dump`, "
            "then `ccproxy flows clear --all`")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS blobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hash BLOB NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        refs INTEGER NOT NULL
    )""",
    # The bytes apart from the counts: a turn bumps hundreds of counts, and those rows stay on a few
    # pages instead of dirtying every page a chunk's bytes sit on.
    "CREATE TABLE IF NOT EXISTS blob_data (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, data BLOB NOT NULL)",
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


def _insert(db: sqlite3.Connection, digest: bytes, kind: int, size: int, data: bytes) -> int:
    bid = int(db.execute("INSERT INTO blobs (hash, size, refs) VALUES (?, ?, 1) RETURNING id",
                         (digest, size)).fetchone()[0])
    db.execute("INSERT INTO blob_data VALUES (?, ?, ?)", (bid, kind, data))
    return bid


def _packed(data: bytes) -> tuple[int, bytes]:
    if len(data) > COMPRESS_OVER:
        packed = zlib.compress(data, 1)  # level 1: a third of the CPU of 6, a little larger
        if len(packed) < len(data):
            return ZLIB, packed
    return RAW, data


class StaleIds(Exception):
    """A blob this connection remembered is gone (another process swept it): redo the transaction."""


class BlobWriter:
    """Writes blobs for one connection, remembering the ids of recent hashes.

    An agent's next turn references the same few hundred chunks again; asking SQLite for each by
    hash is most of a write's cost, so the writer keeps hash -> id for what it wrote or met, and
    adds the references in one statement at the end. It also keeps the last few bodies it split:
    the next turn starts with the same bytes, and the chunks inside that common prefix are neither
    parsed nor hashed again. Ids are never reused (AUTOINCREMENT); a commit by another connection
    (`PRAGMA data_version`) or a sweep clears what could be stale.
    """

    def __init__(self, limit: int = 50_000, bodies: int = 4) -> None:
        self.limit = limit
        self.known: OrderedDict[bytes, int] = OrderedDict()
        self.pending: Counter[int] = Counter()
        self.version: int | None = None
        self.recent: deque[tuple[bytes, list[chunks.Span], list[int]]] = deque(maxlen=bodies)

    def begin(self, db: sqlite3.Connection) -> None:
        """Call first inside each write transaction."""
        version = int(db.execute("PRAGMA data_version").fetchone()[0])
        if version != self.version:
            self.known.clear()
            self.recent.clear()
            self.version = version
        self.pending.clear()

    def forget(self, digests: Iterable[bytes]) -> None:
        for digest in digests:
            self.known.pop(digest, None)
        self.recent.clear()

    def _split(self, db: sqlite3.Connection, data: bytes) -> tuple[list[chunks.Span], list[int]]:
        """The chunks of `data` and their ids, reusing those of the recent body it shares most bytes with."""
        best, shared = None, 0
        for entry in self.recent:
            if entry[0][:64] == data[:64]:
                n = chunks.common_prefix(entry[0], data)
                if n > shared:
                    best, shared = entry, n
        reuse: dict[int, tuple[int, int]] = {}
        if best is not None:
            reuse = {start: (end, bid) for (start, end), bid in zip(best[1], best[2], strict=True) if end <= shared}
        spans = chunks.spans(data, {start: end for start, (end, _) in reuse.items()})
        ids = []
        for start, end in spans:
            hit = reuse.get(start)
            if hit is not None and hit[0] == end:
                self.pending[hit[1]] += 1
                ids.append(hit[1])
            else:
                ids.append(self.store(db, data[start:end], split=False))
        if spans:
            self.recent.append((data, spans, ids))
        return spans, ids

    def store(self, db: sqlite3.Connection, data: bytes, split: bool = True) -> int:
        """The id of a blob holding `data`, with one more reference to it."""
        digest = hashlib.sha256(data).digest()
        bid = self.known.get(digest)
        if bid is not None:
            self.known.move_to_end(digest)
            self.pending[bid] += 1
            return bid
        row = db.execute("UPDATE blobs SET refs = refs + 1 WHERE hash = ? RETURNING id", (digest,)).fetchone()
        if row is not None:
            bid = int(row[0])
        else:
            spans, ids = self._split(db, data) if split and len(data) >= CHUNK_OVER else ([], [])
            if spans:
                bid = _insert(db, digest, RECIPE, len(data), chunks.encode_recipe(data, spans, ids))
            else:
                kind, packed = _packed(data)
                bid = _insert(db, digest, kind, len(data), packed)
        self.known[digest] = bid
        if len(self.known) > self.limit:
            self.known.popitem(last=False)
        return bid

    def reference(self, bid: int) -> None:
        self.pending[bid] += 1

    def reset(self) -> None:
        """After a rollback: the ids of blobs written in it are unknown again (and may be reused)."""
        self.known.clear()
        self.recent.clear()
        self.pending.clear()
        self.version = None

    def flush(self, db: sqlite3.Connection) -> None:
        """Add the remembered references; raises StaleIds if one of the blobs is gone."""
        by_count: dict[int, list[int]] = {}
        for bid, n in self.pending.items():
            by_count.setdefault(n, []).append(bid)
        updated = 0
        for n, ids in by_count.items():
            for start in range(0, len(ids), 900):
                batch = ids[start : start + 900]
                updated += db.execute(f"UPDATE blobs SET refs = refs + ? WHERE id IN ({','.join('?' * len(batch))})",
                                      (n, *batch)).rowcount
        if updated != len(self.pending):
            self.reset()
            raise StaleIds
        self.pending.clear()


def _rows(db: sqlite3.Connection, ids: Iterable[int], verify: bool) -> dict[int, tuple[bytes, int, bytes]]:
    """(sha256, kind, stored bytes) by id; the hash only where it will be checked."""
    out: dict[int, tuple[bytes, int, bytes]] = {}
    wanted = list(dict.fromkeys(ids))
    query = ("SELECT d.id, b.hash, d.kind, d.data FROM blob_data d JOIN blobs b ON b.id = d.id WHERE d.id IN ({})"
             if verify else "SELECT id, x'', kind, data FROM blob_data WHERE id IN ({})")
    for start in range(0, len(wanted), 900):
        batch = wanted[start : start + 900]
        for bid, digest, kind, data in db.execute(query.format(",".join("?" * len(batch))), batch):
            out[bid] = (bytes(digest), kind, bytes(data))
    return out


class ChunkCache:
    """Chunks already read, by id (ids are never reused): reading a session's flows one after the
    other decompresses each re-sent message once, not once per turn. 4 MiB holds a long session's
    distinct messages yet keeps a streaming dump's memory flat (one-off bodies pass through)."""

    def __init__(self, max_bytes: int = 4 << 20) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self.items: OrderedDict[int, bytes] = OrderedDict()

    def get(self, ids: Iterable[int]) -> dict[int, bytes]:
        out = {}
        for bid in ids:
            data = self.items.get(bid)
            if data is not None:
                self.items.move_to_end(bid)
                out[bid] = data
        return out

    def add(self, found: dict[int, bytes]) -> None:
        for bid, data in found.items():
            if bid not in self.items:
                self.items[bid] = data
                self.size += len(data)
        while self.size > self.max_bytes and self.items:
            self.size -= len(self.items.popitem(last=False)[1])


def load(db: sqlite3.Connection, ids: Iterable[int], verify: bool = True,
         cache: ChunkCache | None = None) -> dict[int, bytes]:
    """The bytes of blobs `ids`, checked against their sha256 (a chunk is checked as part of the whole
    it is read for); read inside one transaction. FlowError when the store cannot give them back."""
    wanted = list(ids)
    rows = _rows(db, wanted, verify)
    lost = [bid for bid in wanted if bid not in rows]
    if lost:
        raise FlowError(f"flow store blob {lost[0]} is missing; {_DAMAGED}")
    try:
        recipes = {bid: chunks.decode_recipe(data) for bid, (_, kind, data) in rows.items() if kind == RECIPE}
        inner_ids = list(dict.fromkeys(cid for refs, _ in recipes.values() for cid in refs))
        inner = cache.get(inner_ids) if cache is not None else {}
        unread = [cid for cid in inner_ids if cid not in inner]
        if unread:
            read = load(db, unread, verify=False, cache=cache)
            if cache is not None:
                cache.add(read)
            inner.update(read)
        out: dict[int, bytes] = {}
        for bid, (digest, kind, data) in rows.items():
            if bid in recipes:
                refs, pieces = recipes[bid]
                content = chunks.assemble(pieces, [inner[r] for r in refs])
            elif kind == ZLIB:
                content = zlib.decompress(data)
            elif kind == RAW:
                content = data
            else:
                raise FlowError(f"flow store blob {bid} has unknown kind {kind}; {_DAMAGED}")
            if verify and hashlib.sha256(content).digest() != digest:
                raise FlowError(f"flow store blob {bid} does not match its sha256; {_DAMAGED}")
            out[bid] = content
    except (zlib.error, struct.error, ValueError) as exc:
        raise FlowError(f"flow store blob could not be read ({exc}); {_DAMAGED}") from exc
    return out


def sweep(db: sqlite3.Connection, writer: BlobWriter | None = None) -> int:
    """Delete blobs nothing refers to, releasing what their recipes referenced; returns how many went."""
    removed = 0
    while True:
        dead = db.execute(
            f"SELECT b.id, b.hash, CASE WHEN d.kind = {RECIPE} THEN d.data END FROM blobs b "
            "JOIN blob_data d ON d.id = b.id WHERE b.refs <= 0"
        ).fetchall()
        if not dead:
            return removed
        released: Counter[int] = Counter()
        for _, _, recipe in dead:
            if recipe is not None:
                released.update(chunks.decode_recipe(bytes(recipe))[0])
        gone = [(row[0],) for row in dead]
        if writer is not None:
            writer.forget(bytes(row[1]) for row in dead)
        db.executemany("DELETE FROM blobs WHERE id = ?", gone)
        db.executemany("DELETE FROM blob_data WHERE id = ?", gone)
        # A pruned session releases each of its chunks once per turn: one statement per chunk, not per turn.
        db.executemany("UPDATE blobs SET refs = refs - ? WHERE id = ?", [(n, bid) for bid, n in released.items()])
        removed += len(dead)
