"""The persistent flow store: one SQLite file in the config dir, mode 0600.

Why SQLite rather than mitmproxy's flow files: listing and filtering must not read every body.
A row per flow carries a few summary columns and the flow JSON that jq sees (already masked);
bodies and event logs are parts pointing into a content-addressed blob table (`blobs.py`), fetched
only for the flows a command shows. An agent re-sends its whole conversation every turn, so a
request body is stored as a recipe over chunks that earlier turns already stored (`chunks.py`):
a session grows with what is new in it, not with the square of its length.

WAL lets the CLI read while the daemon writes. `secure_delete` plus a WAL truncation after a delete
means cleared flows are really gone from the file; `auto_vacuum = INCREMENTAL` lets retention and
clears hand the freed pages back to the file system in bounded steps.
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
from ccproxy.store import blobs
from ccproxy.store.facts import FACTS_SCHEMA, FACTS_VERSION, Facts, stored_facts
from ccproxy.store.record import PARTS, FlowRecord

SCHEMA_VERSION = 3
#: Free pages are handed back to the file system in steps this size (4 MiB at 4 KiB pages), each its
#: own short transaction, so a large prune never holds the write lock for long.
RECLAIM_STEP = 1024
#: At most this many pages per `apply_retention` call; the writer process calls it again soon.
RECLAIM_BUDGET = 16384
#: Free pages below this stay in the file: the next writes reuse them.
RECLAIM_SLACK = 256
#: A migration rewrites every body; a second process opening the store meanwhile waits this long.
MIGRATION_WAIT = 600.0

_FLOWS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS flows (
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
        doc BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS flows_ts ON flows (ts, id)",
)
_PART_ORDER = {name: i for i, name in enumerate(PARTS)}
SUMMARY_COLUMNS = ("id", "ts", "method", "host", "path", "status", "model", "provider", "source", "conversation_id")


def pack_doc(doc: dict[str, Any]) -> bytes:
    """A doc compressed: about 2 KB of JSON (mostly headers) becomes a third, and more rows share a page."""
    return zlib.compress(json.dumps(doc, separators=(",", ":"), default=str).encode(), 1)


def doc_bytes(stored: bytes | str) -> bytes:
    """The doc's UTF-8 JSON; schema 1 stored it as text."""
    return stored.encode() if isinstance(stored, str) else zlib.decompress(stored)


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
        # A checkpoint after a big prune or a migration cuts the WAL back to this size.
        self.db.execute("PRAGMA journal_size_limit = 8388608")
        self._writer = blobs.BlobWriter()
        self._chunks = blobs.ChunkCache()
        self._prepare()
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

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction, so a part and the blobs it points at come from the same commit."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN")
        try:
            yield self.db
        finally:
            self.db.execute("COMMIT")

    # -- schema --------------------------------------------------------------------------------
    def _version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _prepare(self) -> None:
        version = self._version()
        if version == SCHEMA_VERSION:
            if int(self.db.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                from ccproxy.store import migrate

                migrate.enable_auto_vacuum(self.db)  # an upgrade whose VACUUM met a busy store
            return
        if version > SCHEMA_VERSION:
            raise FlowError(f"the flow store {self.path} has schema {version}, written by a newer ccproxy "
                            f"(this one reads {SCHEMA_VERSION}); upgrade ccproxy or point flows.store elsewhere")
        self.db.execute(f"PRAGMA busy_timeout = {int(MIGRATION_WAIT * 1000)}")
        try:
            if version == 0:
                self._create()
            else:
                from ccproxy.store import migrate  # only ever needed once per store

                migrate.upgrade(self.db, self.path, SCHEMA_VERSION)
        finally:
            self.db.execute("PRAGMA busy_timeout = 10000")

    def _create(self) -> None:
        # Both must precede the first table: afterwards only a VACUUM changes auto_vacuum.
        self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self.db.execute("PRAGMA journal_mode = WAL")
        with self.transaction() as db:
            if self._version() != 0:
                return  # another process created it meanwhile
            for statement in (*_FLOWS_SCHEMA, *blobs.SCHEMA, *FACTS_SCHEMA):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing -------------------------------------------------------------------------------
    def put(self, records: Sequence[FlowRecord]) -> None:
        """Insert or replace records (a replayed flow is written again under the same id)."""
        rows, facts = [], []
        # One batch may hold a flow twice (a WebSocket's 101 and its end): the later record wins.
        records = list({rec.id: rec for rec in records}.values())
        for rec in records:
            req, resp, ccp = rec.doc.get("request") or {}, rec.doc.get("response") or {}, rec.ccproxy
            rows.append((
                rec.id, rec.ts, req.get("method"), req.get("pretty_host") or req.get("host"),
                req.get("path"), resp.get("status_code"), ccp.get("model"), ccp.get("provider"),
                ccp.get("source"), ccp.get("conversation_id"),
                pack_doc(rec.doc),
            ))
            facts.append((rec.id, FACTS_VERSION, *stored_facts(rec.doc, rec.parts).pack()))
        try:
            self._put(records, rows, facts)
        except blobs.StaleIds:
            self._put(records, rows, facts)  # another process swept blobs this connection remembered

    def _put(self, records: Sequence[FlowRecord], rows: list[tuple[Any, ...]], facts: list[tuple[Any, ...]]) -> None:
        writer = self._writer
        try:
            with self.transaction() as db:
                writer.begin(db)
                # rowids past every existing one: a flow written again gets a new one (its version, see
                # `versions`) even when it was the newest row, whose rowid SQLite would hand out again
                top = int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM flows").fetchone()[0])
                replaced = sum(db.execute("DELETE FROM flows WHERE id = ?", (r[0],)).rowcount for r in rows)
                db.executemany(f"INSERT INTO flows (rowid, {', '.join(SUMMARY_COLUMNS)}, doc) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [(top + 1 + i, *r) for i, r in enumerate(rows)])
                db.executemany("INSERT INTO facts VALUES (?,?,?,?,?)", facts)
                parts = []
                for rec in records:
                    seen: dict[bytes, int] = {}  # passthrough flows carry the same bytes in several phases
                    for name, data in rec.parts.items():
                        if data in seen:
                            writer.reference(seen[data])
                        else:
                            seen[data] = writer.store(db, data)
                        parts.append((rec.id, name, seen[data]))
                db.executemany("INSERT INTO parts VALUES (?,?,?)", parts)
                writer.flush(db)
                if replaced:
                    blobs.sweep(db, writer)
        except BaseException:
            writer.reset()
            raise

    def apply_retention(self, max_count: int, max_age_days: float, now: float | None = None) -> int:
        """Drop flows older than `max_age_days`, then the oldest beyond `max_count`; returns how many went."""
        cutoff = (time.time() if now is None else now) - max_age_days * 86400
        with self.transaction() as db:
            old = db.execute("DELETE FROM flows WHERE ts < ?", (cutoff,)).rowcount
            over = db.execute(
                "DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)",
                (max_count,),
            ).rowcount
            if old or over:
                blobs.sweep(db, self._writer)
        self.reclaim(RECLAIM_BUDGET)  # also what an earlier, larger prune left over
        return int(old + over)

    def evict_bodies(self, keep: int) -> int:
        """Drop the bodies (parts, and the blobs no other flow uses) of the oldest flows that still have
        them, all but the newest `keep` flows; their rows and facts stay, their docs gain
        `.ccproxy.bodies_evicted`. The disk budget calls it before it removes whole flows; returns how many."""
        with self.transaction() as db:
            ids = [r[0] for r in db.execute(
                "SELECT id FROM flows WHERE id NOT IN (SELECT id FROM flows ORDER BY ts DESC, id DESC LIMIT ?) "
                "AND EXISTS (SELECT 1 FROM parts WHERE flow_id = flows.id) ORDER BY ts, id", (max(0, keep),))]
            if not ids:
                return 0
            marked = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM parts WHERE flow_id IN ({marks})", chunk)
                for fid, stored in db.execute(f"SELECT id, doc FROM flows WHERE id IN ({marks})", chunk).fetchall():
                    doc = json.loads(doc_bytes(stored))
                    doc["ccproxy"] = {**(doc.get("ccproxy") or {}), "bodies_evicted": True}
                    marked.append((pack_doc(doc), fid))
            db.executemany("UPDATE flows SET doc = ? WHERE id = ?", marked)
            blobs.sweep(db, self._writer)
        return len(ids)

    def bodies_kept(self) -> int:
        """How many flows still have their bodies (the disk budget evicts the others' first)."""
        return int(self.db.execute("SELECT count(DISTINCT flow_id) FROM parts").fetchone()[0])

    def delete(self, ids: Iterable[str]) -> int:
        with self.transaction() as db:
            count = sum(db.execute("DELETE FROM flows WHERE id = ?", (i,)).rowcount for i in ids)
            blobs.sweep(db, self._writer)
        empty = self.count() == 0
        if not empty:
            self.reclaim(None)
        self.scrub(vacuum=empty)
        return count

    def delete_all(self) -> int:
        with self.transaction() as db:
            count = int(db.execute("DELETE FROM flows").rowcount)
            db.execute("DELETE FROM blobs")
            db.execute("DELETE FROM blob_data")
        self._writer.reset()
        self.scrub(vacuum=True)
        return count

    def reclaim(self, budget: int | None = RECLAIM_BUDGET, slack: int = RECLAIM_SLACK) -> int:
        """Give free pages beyond `slack` back to the file system, at most `budget` (None: all); returns how many."""
        freed = 0
        while budget is None or freed < budget:
            free = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
            if free <= slack:
                break
            step = min(free - slack, RECLAIM_STEP, budget - freed if budget is not None else RECLAIM_STEP)
            # One page per step of the statement: fetchall runs it to the end.
            self.db.execute(f"PRAGMA incremental_vacuum({int(step)})").fetchall()
            after = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
            if after >= free:
                break  # auto_vacuum is off (a store whose upgrade could not VACUUM yet)
            freed += free - after
        if freed:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return freed

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
        rows = self.db.execute("SELECT doc FROM flows ORDER BY ts, id").fetchall()
        return b"[" + b",\n".join([doc_bytes(r[0]) for r in rows]) + b"]"

    def docs_text(self) -> str:
        return self.docs_bytes().decode("utf-8")

    def docs(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The docs of `ids`, in the order given (ids not in the store are skipped)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for fid, doc in self.db.execute(f"SELECT id, doc FROM flows WHERE id IN ({marks})", chunk):
                found[fid] = json.loads(doc_bytes(doc))
        return [found[i] for i in ids if i in found]

    def iter_docs(self, batch: int = 500) -> Iterator[dict[str, Any]]:
        """Every doc, oldest first, parsed `batch` at a time: for callers that need not hold them all."""
        last: tuple[float, str] | None = None
        while True:
            if last is None:
                rows = self.db.execute("SELECT ts, id, doc FROM flows ORDER BY ts, id LIMIT ?", (batch,)).fetchall()
            else:
                rows = self.db.execute(
                    "SELECT ts, id, doc FROM flows WHERE (ts, id) > (?, ?) ORDER BY ts, id LIMIT ?", (*last, batch)
                ).fetchall()
            if not rows:
                return
            for _, _, doc in rows:
                yield json.loads(doc_bytes(doc))
            last = (rows[-1][0], rows[-1][1])

    def newest_docs(self, limit: int = -1) -> list[dict[str, Any]]:
        """The newest `limit` docs (-1: all), oldest first: an index scan from the newest end."""
        rows = self.db.execute("SELECT doc FROM flows ORDER BY ts DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [json.loads(doc_bytes(r[0])) for r in reversed(rows)]

    def summaries(self, limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        """The summary columns of flows oldest first (`limit` -1: all), without touching a doc or a body."""
        cur = self.db.execute(f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM flows ORDER BY ts, id LIMIT ? OFFSET ?",
                              (limit, offset))
        return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in cur]

    def parts(self, flow_id: str) -> dict[str, bytes]:
        """The stored bytes of each part of `flow_id`, exactly as captured (FlowError if they do not check out)."""
        with self._snapshot() as db:
            rows = db.execute("SELECT name, blob FROM parts WHERE flow_id = ?", (flow_id,)).fetchall()
            data = blobs.load(db, [bid for _, bid in rows], cache=self._chunks)
        ordered = sorted(rows, key=lambda r: (_PART_ORDER.get(r[0], len(_PART_ORDER)), r[0]))
        return {name: data[bid] for name, bid in ordered}

    def facts(self, ids: Sequence[str]) -> list[Facts]:
        """The session facts of `ids`, in that order (ids not in the store are skipped). A flow whose row is
        missing or older than `FACTS_VERSION` (a store the writer has not refreshed yet) gets its facts
        computed from its bodies here, one flow at a time, and not stored: readers never write."""
        found: dict[str, Facts] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for fid, data, prefixes, results in self.db.execute(
                    f"SELECT flow_id, data, prefixes, results FROM facts WHERE version = ? AND flow_id IN ({marks})",
                    (FACTS_VERSION, *chunk)):
                found[fid] = Facts.unpack(data, prefixes, results)
        missing = [i for i in ids if i not in found]
        for doc in self.docs(missing):
            found[doc["id"]] = stored_facts(doc, self.parts(doc["id"]))
        return [found[i] for i in ids if i in found]

    def versions(self, ids: Sequence[str]) -> list[tuple[str, int]]:
        """(id, rowid) of `ids` in that order: the rowid changes when a flow is written again (a replay)."""
        rowids = dict(self.db.execute("SELECT id, rowid FROM flows").fetchall())
        return [(i, int(rowids[i])) for i in ids if i in rowids]

    def stale_facts(self, limit: int = -1) -> list[str]:
        """Flows without facts of the current version, oldest first."""
        rows = self.db.execute(
            "SELECT f.id FROM flows f LEFT JOIN facts x ON x.flow_id = f.id AND x.version = ? "
            "WHERE x.flow_id IS NULL ORDER BY f.ts, f.id LIMIT ?", (FACTS_VERSION, limit))
        return [r[0] for r in rows]

    def refresh_facts(self, batch: int = 64) -> int:
        """Compute and store the facts every flow lacks (an upgraded store, a `FACTS_VERSION` bump) from
        its stored bodies, `batch` flows per transaction; returns how many. The writer runs it at start."""
        done = 0
        while ids := self.stale_facts(batch):
            rows = [(doc["id"], FACTS_VERSION, *stored_facts(doc, self.parts(doc["id"])).pack())
                    for doc in self.docs(ids)]
            with self.transaction() as db:
                db.executemany("INSERT OR REPLACE INTO facts SELECT ?,?,?,?,? WHERE EXISTS "
                               "(SELECT 1 FROM flows WHERE id = ?)", [(*r, r[0]) for r in rows])
            done += len(rows)
            if len(rows) < len(ids):
                break  # flows deleted meanwhile
        return done

    def file_stats(self) -> dict[str, int]:
        """Pages in use and free, and the bytes the blob table holds: for benches and tests."""
        pragma = {k: int(self.db.execute(f"PRAGMA {k}").fetchone()[0])
                  for k in ("page_size", "page_count", "freelist_count")}
        count, size = self.db.execute("SELECT count(*), coalesce(sum(size), 0) FROM blobs").fetchone()
        (stored,) = self.db.execute("SELECT coalesce(sum(length(data)), 0) FROM blob_data").fetchone()
        return {**pragma, "blobs": int(count), "blob_bytes": int(stored), "blob_content_bytes": int(size)}

    def match_prefix(self, prefix: str) -> list[str]:
        """Ids starting with `prefix` (case-insensitive), at most 10."""
        pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT id FROM flows WHERE id LIKE ? ESCAPE '\\' ORDER BY ts, id LIMIT 10", (pattern,)
        )
        return [r[0] for r in rows]
