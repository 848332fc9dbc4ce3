from __future__ import annotations

import threading
import time
from pathlib import Path

from ccproxy.flows.meta import FlowMeta
from ccproxy.flows.record import Captured, FlowRecord
from ccproxy.flows.store import FlowStore
from ccproxy.flows.writer import StoreWriter
from tests.flows.factory import make_record, web_json


def test_records_reach_the_store_off_the_calling_thread(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=100, max_age_days=3650).start()
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(20)]
    for rec in recs:
        assert writer.submit(rec)
    assert writer.flush(10)
    assert writer.thread is not threading.current_thread()
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    writer.close()
    assert not writer.thread.is_alive()


def test_retention_runs_as_flows_are_written(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=5, max_age_days=3650).start()
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(12)]
    for rec in recs:
        writer.submit(rec)
    writer.close()
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs[-5:]]


def test_close_writes_everything_still_queued(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    for i in range(200):
        writer.submit(make_record(ts=2_000_000_000.0 + i))
    writer.close()
    with FlowStore(path) as store:
        assert store.count() == 200


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=3)
    writer.store = FlowStore(path, create=True)  # thread not started: nothing drains the queue
    results = [writer.submit(make_record()) for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert writer.dropped == 2
    writer.thread.start()
    writer.close()
    with FlowStore(path) as store:
        assert store.count() == 3


def test_raw_captures_are_built_on_the_writer_thread_and_bad_ones_skipped(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    built: list[tuple[str, str]] = []

    def on_record(captured: Captured, record: FlowRecord) -> None:
        built.append((record.id, threading.current_thread().name))

    writer = StoreWriter(path, max_count=100, max_age_days=3650, on_record=on_record).start()
    good = Captured(web=web_json("good-1", time.time()), meta=FlowMeta(source="reverse"), request_body=b"{}",
                    response_body=b"{}")
    bad = Captured(web={"no": "id"}, meta=FlowMeta(), request_body=b"")
    assert writer.submit(bad) and writer.submit(good)
    writer.close()
    assert built == [("good-1", "ccproxy-flow-store")]
    with FlowStore(path) as store:
        assert store.ids() == ["good-1"]
