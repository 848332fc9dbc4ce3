from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccproxy.flowmeta import FlowMeta
from ccproxy.store.db import FlowStore
from ccproxy.store.record import Captured
from ccproxy.store.writer import StoreWriter, read_stats
from ccproxy.store.writerproc import write
from tests.daemon import wait_for
from tests.store.factory import make_record, web_json


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


def spill_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".spill.*"))


def test_a_full_queue_spills_to_disk_instead_of_dropping(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=3)
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(8)]
    results = [writer.submit(r) for r in recs]  # not started: nothing drains the queue
    assert results == [True] * 8
    assert writer.spilled == 5 and writer.lost == 0
    assert [f.stat().st_mode & 0o777 for f in spill_files(path)] == [0o600]
    writer.start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    assert spill_files(path) == []  # a drained spill is removed


def test_a_stopped_writer_loses_no_flow(tmp_path: Path) -> None:
    """The writer child stalls (SIGSTOP) while flows keep coming: every one is stored once it resumes."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650, max_queue=10).start()
    assert writer.proc is not None
    child = writer.proc
    child.send_signal(signal.SIGSTOP)
    try:
        recs = [make_record(ts=2_000_000_000.0 + i, body={"model": "m", "pad": "x" * 50_000}) for i in range(120)]
        assert all(writer.submit(r) for r in recs)
        assert writer.spilled >= 100
    finally:
        child.send_signal(signal.SIGCONT)
    assert writer.flush(60)
    writer.close(30)
    assert writer.lost == 0 and writer.proc is child
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    assert spill_files(path) == []


def test_a_store_locked_by_another_process_loses_no_flow(tmp_path: Path) -> None:
    """A CLI command holding the write lock longer than SQLite's busy timeout would have cost the batch."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650, max_queue=5).start()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        recs = [make_record(ts=2_000_000_000.0 + i) for i in range(40)]
        assert all(writer.submit(r) for r in recs)
        wait_for(lambda: writer.spilled > 0 and writer.sent == len(writer.unacked), 30, what="the writer to spill")
    finally:
        other.execute("COMMIT")
        other.close()
    assert writer.flush(60)
    writer.close(30)
    assert writer.lost == 0
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]


def test_a_spill_left_by_a_dead_daemon_is_written_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    dead = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=2)
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(6)]
    assert all(dead.submit(r) for r in recs)  # 2 in memory (gone with the daemon), 4 on disk
    assert dead.spill is not None
    with open(spill_files(path)[0], "ab") as fh:
        fh.write(b"\x00\x00\x10\x00partial")  # the daemon died in the middle of an append
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs[2:]]
    assert writer.lost == 1 and "mid-flow" in (writer.last_loss or {}).get("cause", "")
    stats = read_stats(path)
    assert stats is not None and stats["lost"] == 1 and stats["written"] == 4
    assert spill_files(path) == []


def test_shutdown_keeps_unwritten_flows_for_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    assert writer.proc is not None
    writer.proc.send_signal(signal.SIGSTOP)  # hung: close() gives up on it after its timeout
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(5)]
    assert all(writer.submit(r) for r in recs)
    writer.close(0.5)
    assert len(spill_files(path)) == 1
    nxt = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    nxt.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]


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


class FullDisk:
    """The store edge of `writerproc.write`: SQLite refuses one record because the disk is full."""

    def __init__(self, bad: str) -> None:
        self.bad, self.rows, self.busy = bad, [], 2

    def put(self, records: list) -> None:  # type: ignore[type-arg]
        if self.busy:
            self.busy -= 1
            exc = sqlite3.OperationalError("database is locked")
            exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"  # type: ignore[attr-defined]
            raise exc
        if any(r.id == self.bad for r in records):
            exc = sqlite3.OperationalError("database or disk is full")
            exc.sqlite_errorcode, exc.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"  # type: ignore[attr-defined]
            raise exc
        self.rows.extend(r.id for r in records)


def test_write_waits_out_a_busy_store_and_reports_a_full_disk_per_flow() -> None:
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(3)]
    store = FullDisk(bad=recs[1].id)
    lost: list[list[str]] = []
    written = write(store, recs, lost)
    assert [r.id for r in written] == store.rows == [recs[0].id, recs[2].id]
    assert lost == [[recs[1].id, "SQLITE_FULL: database or disk is full"]]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: a real ENOSPC/SQLITE_FULL without filling the machine's disk."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_counted_with_its_cause_and_the_writer_keeps_going(tiny_disk: Path) -> None:
    path = tiny_disk / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650, max_queue=100).start()
    try:
        recs = [make_record(ts=2_000_000_000.0 + i, body={"model": "m", "pad": os.urandom(20_000).hex()})
                for i in range(40)]  # 1.6 MB of bodies hex only halves, for 1 MB of disk
        for rec in recs:
            writer.submit(rec)
        assert writer.flush(60)
        assert writer.lost > 0 and writer.written > 0
        assert writer.written + writer.lost == len(recs)
        cause = (writer.last_loss or {}).get("cause", "")
        assert "SQLITE_FULL" in cause or "ENOSPC" in cause
        # The writer still serves: once there is room again, the next flow is stored.
        subprocess.run(["mount", "-o", "remount,size=8m", str(tiny_disk)], check=True)
        small = make_record(ts=2_000_000_100.0)
        assert writer.submit(small) and writer.flush(30)
        with FlowStore(path) as store:
            assert small.id in store.ids()
    finally:
        writer.close(30)
    stats = read_stats(path)
    assert stats is not None and stats["lost"] == writer.lost and stats["last_loss"]["cause"] == cause


def test_the_memory_queue_is_bounded_by_bytes_too(tmp_path: Path) -> None:
    """Agent requests are hundreds of KB: 1,000 of them in memory would be a GB."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=1000, max_queue_bytes=300_000)
    recs = [make_record(ts=2_000_000_000.0 + i, body={"model": "m", "pad": "x" * 100_000}) for i in range(10)]
    assert all(writer.submit(r) for r in recs)  # not started: nothing drains the queue
    assert len(writer.unacked) == 3 and writer.spilled == 7 and writer.queued_bytes >= 300_000
    writer.start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
