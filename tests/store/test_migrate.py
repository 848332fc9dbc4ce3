"""A store written with schema 1 opens under this version and is upgraded in place, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ccproxy.errors import FlowError
from ccproxy.store.db import SCHEMA_VERSION, FlowStore
from ccproxy.store.record import FlowRecord
from tests.sessions.session import session
from tests.store.factory import fixture_events, make_record
from tests.store.v1store import V1Store


def v1_store(path: Path) -> list[FlowRecord]:
    """A schema-1 file with every codec it used: raw, zlib, `ref` to an earlier phase, empty parts."""
    events = fixture_events("anthropic_stream_text.sse")
    records = [t.record for t in session(6, seed=3)]
    records += [
        make_record(body={"model": "m", "messages": [{"role": "user", "content": "x" * 3000}]},
                    forwarded_body={"model": "m2", "messages": [{"role": "user", "content": "x" * 3000}]},
                    upstream_events=events, response_body=b"data: changed\n\n", upstream_body=b"data: orig\n\n"),
        make_record(status=None),
        make_record(body={"model": "m", "messages": []}, response_body=b""),
    ]
    records[-1].parts["request"] = b"\xff\xfe not json \x00"
    v1 = V1Store(path)
    v1.put(records[:4])
    v1.put(records[4:])
    v1.close()
    return records


def test_a_schema_1_store_is_upgraded_in_place_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    records = v1_store(path)
    db = sqlite3.connect(path)
    docs_before = db.execute("SELECT CAST(doc AS BLOB) FROM flows ORDER BY ts, id").fetchall()
    assert {c for (c,) in db.execute("SELECT DISTINCT codec FROM parts")} == {"raw", "zlib", "ref"}
    db.close()

    store = FlowStore(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2, "incremental vacuum after the upgrade"
    assert store.ids() == [r.id for r in sorted(records, key=lambda r: (r.ts, r.id))]
    assert store.docs_bytes() == b"[" + b",\n".join(d for (d,) in docs_before) + b"]"
    for rec in records:
        assert store.parts(rec.id) == rec.parts, rec.id
    assert "parts_v1" not in {n for (n,) in store.db.execute("SELECT name FROM sqlite_master")}

    more = make_record(ts=2_000_000_000.0)
    store.put([more])
    assert store.parts(more.id) == more.parts
    assert store.apply_retention(max_count=2, max_age_days=36500, now=2_000_000_001.0) == len(records) - 1
    store.close()
    again = FlowStore(path, create=True)  # the writer opens with create=True: no second upgrade
    assert again.count() == 2


def test_a_store_from_a_newer_ccproxy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    FlowStore(path, create=True).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(FlowError, match="newer ccproxy"):
        FlowStore(path)


def schema_2_store(path: Path, records: list[FlowRecord]) -> None:
    """A store as schema 2 wrote it: today's tables without `facts`, user_version 2."""
    with FlowStore(path, create=True) as store:
        store.put(records)
        store.db.execute("DROP TABLE facts")
        store.db.execute("PRAGMA user_version = 2")


def test_a_schema_2_store_gains_facts_computed_from_its_bodies(tmp_path: Path) -> None:
    from ccproxy.store.facts import facts_of
    from ccproxy.store.writer import StoreWriter
    from tests.sessions.agent_session import records as agent_records

    path = tmp_path / "flows.sqlite3"
    records = [*agent_records(), *(t.record for t in session(4, seed=5))]
    schema_2_store(path, records)
    expected = {r.id: facts_of(r.doc, r.parts) for r in records}
    with FlowStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert len(store.stale_facts()) == len(records)
        # before the writer fills the table, readers compute what is missing from the bodies
        assert {f.id: f for f in store.facts(store.ids())} == expected
        ids_before = store.ids()
        parts_before = {i: store.parts(i) for i in ids_before}
    writer = StoreWriter(path, max_count=100, max_age_days=3650).start()  # the writer process fills it
    writer.close()
    with FlowStore(path) as store:
        assert store.stale_facts() == []
        assert {f.id: f for f in store.facts(store.ids())} == expected
        assert store.ids() == ids_before and {i: store.parts(i) for i in ids_before} == parts_before


def test_a_facts_version_bump_recomputes_older_rows(tmp_path: Path) -> None:
    from tests.sessions.agent_session import records as agent_records

    path = tmp_path / "flows.sqlite3"
    records = agent_records()
    with FlowStore(path, create=True) as store:
        store.put(records)
        fresh = store.facts(store.ids())
        store.db.execute("UPDATE facts SET version = version - 1, data = ? WHERE flow_id = ?",
                         (b"not even zlib", records[0].id))
        assert store.stale_facts() == [records[0].id]
        assert store.facts(store.ids()) == fresh  # the stale row is not read
        assert store.refresh_facts() == 1
        assert store.stale_facts() == [] and store.facts(store.ids()) == fresh


def test_a_schema_1_store_runs_every_step_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    records = v1_store(path)
    with FlowStore(path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.refresh_facts() == len(records)
        assert [f.id for f in store.facts(store.ids())] == store.ids()
