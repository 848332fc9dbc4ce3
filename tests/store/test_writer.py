from __future__ import annotations

import logging
import os
import pickle
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccproxy.flowmeta import FlowMeta
from ccproxy.store import spill
from ccproxy.store.db import FlowStore
from ccproxy.store.record import Captured
from ccproxy.store.writer import StoreWriter
from ccproxy.store.writerproc import frame, write
from ccproxy.store.writerstatus import read_stats
from tests.daemon import small_tmpfs, wait_for
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
    # Every capture is journaled: 3 handed over in memory, 5 left for the reader, in separate segments.
    assert [f.stat().st_mode & 0o777 for f in spill_files(path)] == [0o600, 0o600]
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


def test_a_journal_left_by_a_dead_daemon_is_written_at_the_next_start(tmp_path: Path) -> None:
    """Captures queued in the dead daemon's memory were journaled too: none of them is lost."""
    path = tmp_path / "flows.sqlite3"
    dead = StoreWriter(path, max_count=1000, max_age_days=3650, max_queue=2)
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(6)]
    assert all(dead.submit(r) for r in recs)  # 2 in memory (gone with the daemon), 4 only on disk
    assert dead.spill is not None
    with open(spill_files(path)[-1], "ab") as fh:
        fh.write(b"\x00\x00\x10\x00partial")  # the daemon died in the middle of an append
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    assert writer.lost == 1 and "mid-flow" in (writer.last_loss or {}).get("cause", "")
    stats = read_stats(path)
    assert stats is not None and stats["lost"] == 1 and stats["written"] == 6
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
    with small_tmpfs(tmp_path / "tiny", "1m") as mnt:
        yield mnt


def test_a_full_disk_is_counted_with_its_cause_and_the_writer_keeps_going(tiny_disk: Path) -> None:
    path = tiny_disk / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650, max_queue=100).start()
    try:
        first = make_record(ts=2_000_000_000.0 - 1)
        assert writer.submit(first) and writer.flush(30)  # the writer has its store open
        recs = [make_record(ts=2_000_000_000.0 + i, body={"model": "m", "pad": os.urandom(20_000).hex()})
                for i in range(40)]  # 1.6 MB of bodies hex only halves, for 1 MB of disk
        for rec in recs:
            writer.submit(rec)
        assert writer.flush(60)
        # Every flow is journaled on the same small disk while it waits, so how many still fit varies.
        assert writer.lost > 0 and writer.written >= 1
        assert writer.written + writer.lost == len(recs) + 1
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


def test_a_torn_journal_is_recovered_and_the_loss_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`truncate -s -100` of a journal file: what is readable is stored, the torn flow counted with its
    cause, and nothing is logged as an error (mitmproxy exits on an ERROR during start-up)."""
    path = tmp_path / "flows.sqlite3"
    dead = StoreWriter(path, max_count=1000, max_age_days=3650)
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(5)]
    assert all(dead.submit(r) for r in recs)
    [segment] = spill_files(path)
    os.truncate(segment, segment.stat().st_size - 100)
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs[:4]]
    assert writer.lost == 1 and "journal file ended mid-flow" in (writer.last_loss or {}).get("cause", "")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert spill_files(path) == []


def test_journal_frames_of_an_unknown_format_are_refused_with_their_cause(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    known = make_record(ts=2_000_000_000.0)
    with open(path.parent / (path.name + ".spill.000001"), "wb") as fh:
        fh.write(spill.pack(b"from the future", version=spill.FORMAT + 1) + frame(known))
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [known.id]
    assert writer.lost == 1 and f"format {spill.FORMAT + 1}" in (writer.last_loss or {}).get("cause", "")


def test_a_journal_of_an_earlier_ccproxy_is_read_as_format_0(tmp_path: Path) -> None:
    """Segments written before frames had a version: a bare length and a pickle."""
    path = tmp_path / "flows.sqlite3"
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(3)]
    with open(path.parent / (path.name + ".spill.000001"), "wb") as fh:
        for rec in recs:
            data = pickle.dumps(rec)
            fh.write(spill.LEGACY.pack(len(data)) + data)
    writer = StoreWriter(path, max_count=1000, max_age_days=3650).start()
    writer.close(30)
    with FlowStore(path) as store:
        assert store.ids() == [r.id for r in recs]
    assert writer.lost == 0


def test_status_counters_converge_while_the_writer_is_stalled(tmp_path: Path) -> None:
    """No acknowledgement arrives from a stopped writer, yet the status file counts what waits."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650, max_queue=10).start()
    assert writer.proc is not None
    child = writer.proc
    child.send_signal(signal.SIGSTOP)
    try:
        assert all(writer.submit(make_record(ts=2_000_000_000.0 + i)) for i in range(50))
        wait_for(lambda: (read_stats(path) or {}).get("queued") == 50, 10, what="the status file to count 50 queued")
    finally:
        child.send_signal(signal.SIGCONT)
    wait_for(lambda: (read_stats(path) or {}).get("written") == 50 and read_stats(path)["queued"] == 0, 20,
             what="the status file to count 50 written after the writer resumed")
    writer.close(30)


def test_at_rest_the_journal_and_the_wal_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=10_000, max_age_days=3650).start()
    try:
        for i in range(300):
            assert writer.submit(make_record(ts=2_000_000_000.0 + i, body={"model": "m", "pad": "x" * 20_000}))
        assert writer.flush(60)
        wal = path.with_name(path.name + "-wal")
        wait_for(lambda: wal.stat().st_size == 0, 20, what="the idle writer to truncate the WAL")
        assert all(f.stat().st_size == 0 for f in spill_files(path))  # stored: nothing left to replay
    finally:
        writer.close(30)
    assert spill_files(path) == []


def test_frames_left_over_from_a_full_batch_do_not_wait_for_more_input() -> None:
    """70 frames in the pipe, batches of 64: the last 6 are served without the daemon sending more."""
    from ccproxy.store.writerproc import Frames

    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"".join(spill.pack(b"x" * 100) for _ in range(70)))
        frames = Frames(read_fd)
        assert len(frames.batch(64)) == 64
        got: list[int] = []
        reader = threading.Thread(target=lambda: got.append(len(frames.batch(64))), daemon=True)
        reader.start()
        reader.join(10)
        assert got == [6]
    finally:
        os.close(write_fd)  # frees a reader stuck on the pipe
        os.close(read_fd) if not reader.is_alive() else None


def test_retention_pruning_young_flows_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A burst outgrowing max_count prunes flows seconds old: a warning and a count for `status`."""
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=5, max_age_days=3650).start()
    old = [make_record(ts=time.time() - 3600 - i) for i in range(6)]  # an hour old: ordinary retention
    for rec in old:
        writer.submit(rec)
    assert writer.flush(30) and writer.pruned_young == 0
    now = time.time()
    for i in range(12):
        writer.submit(make_record(ts=now + i * 0.001))
    writer.close(30)
    assert writer.pruned_young >= 7
    assert any("the newest only" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert (read_stats(path) or {})["pruned_young"] == writer.pruned_young


def test_a_disk_budget_keeps_store_wal_and_journal_inside_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from ccproxy.store.writerproc import disk_bytes

    caplog.set_level(logging.INFO)
    path = tmp_path / "flows.sqlite3"
    writer = StoreWriter(path, max_count=100_000, max_age_days=3650, max_disk_mb=1.0).start()
    recs = [make_record(ts=time.time() - 100 + i, body={"model": "m", "pad": os.urandom(10_000).hex()})
            for i in range(100)]  # 2 MB of bodies that do not compress, for a 1 MB budget
    for rec in recs:
        assert writer.submit(rec)
    assert writer.flush(60)
    writer.close(30)
    assert disk_bytes(path) <= 1_000_000 * 1.1  # within the budget, give or take the last batch's pages
    with FlowStore(path) as store:
        ids = store.ids()
        docs = store.docs(ids)
        assert store.parts(recs[-1].id) == recs[-1].parts
    assert ids == [r.id for r in recs]  # the rows stay: bodies went first, and that was enough
    evicted = [d["id"] for d in docs if d["ccproxy"].get("bodies_evicted")]
    assert evicted and evicted == ids[: len(evicted)]  # the oldest bodies went
    said = [r.getMessage() for r in caplog.records if "disk budget" in r.getMessage()]
    assert said and sum(int(m.split("bodies of ")[1].split()[0]) for m in said) == len(evicted)
