from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from ccproxy.flows.meta import FlowMeta
from ccproxy.flows.record import Captured
from ccproxy.flows.store import FlowStore
from ccproxy.flows.writer import StoreWriter
from tests.flows.factory import make_record, web_json


def test_records_reach_the_store_through_the_writer_process(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=100, max_age_days=3650).start()
    assert path.stat().st_mode & 0o777 == 0o600
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(20)]
    for rec in recs:
        assert writer.submit(rec)
    assert writer.flush(20)
    assert writer.proc is not None and writer.proc.pid != os.getpid()
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    assert writer.written == 20
    writer.close()
    assert writer.proc.returncode == 0


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
    writer.close(30)
    with FlowStore(path) as store:
        assert store.count() == 200


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=3)
    results = [writer.submit(make_record()) for _ in range(5)]  # not started: nothing drains the queue
    assert results == [True, True, True, False, False]
    assert writer.dropped == 2
    writer.start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.count() == 3


def test_a_killed_writer_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    first = writer.proc
    assert first is not None
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(30)]
    for rec in recs:
        assert writer.submit(rec)
    assert writer.flush(30)
    assert writer.proc is not first
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]


def test_terminal_signals_do_not_stop_the_writer(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group; the daemon, not the signal, ends the writer."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    assert writer.proc is not None
    assert writer.submit(make_record(ts=2_000_000_000.0)) and writer.flush(20)  # the child is serving
    child = writer.proc
    child.send_signal(signal.SIGINT)
    assert writer.submit(make_record(ts=2_000_000_001.0)) and writer.flush(20)
    assert writer.proc is child and child.poll() is None
    writer.close(30)
    with FlowStore(path) as store:
        assert store.count() == 2


def test_raw_captures_are_built_in_the_writer_and_bad_ones_skipped(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    facts: list[tuple[str, str]] = []

    def on_record(flow_id: str, usage: object, conversation_id: object) -> None:
        facts.append((flow_id, threading.current_thread().name))

    writer = StoreWriter(path, max_count=100, max_age_days=3650, on_record=on_record).start()
    good = Captured(web=web_json("good-1", time.time()), meta=FlowMeta(source="reverse"), request_body=b"{}",
                    response_body=b"{}")
    bad = Captured(web={"no": "id"}, meta=FlowMeta(), request_body=b"")
    assert writer.submit(bad) and writer.submit(good)
    writer.close(30)
    assert facts == [("good-1", "ccproxy-flow-acks")]
    with FlowStore(path) as store:
        assert store.ids() == ["good-1"]
