from __future__ import annotations

import json
import os
import stat
import zlib
from pathlib import Path

import pytest

from ccproxy.errors import FlowError
from ccproxy.store import blobs
from ccproxy.store import db as store_module
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord
from tests.sessions.session import session
from tests.store.factory import fixture_events, make_record


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def store(tmp_path: Path) -> FlowStore:
    return FlowStore(tmp_path / "flows.sqlite3", create=True)


def test_store_files_are_private(store: FlowStore, tmp_path: Path) -> None:
    store.put([make_record()])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "flows.sqlite3" in files
    for name in files:
        assert _mode(tmp_path / name) == 0o600, name


def test_a_missing_store_is_an_error_unless_created(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="no flow store"):
        FlowStore(tmp_path / "absent.sqlite3")


def test_records_round_trip_with_all_four_phases(store: FlowStore) -> None:
    events = fixture_events("anthropic_stream_text.sse")
    rec = make_record(body={"model": "m", "messages": [{"role": "user", "content": "x" * 2000}]},
                      forwarded_body={"model": "m2", "messages": [{"role": "user", "content": "x" * 2000}]},
                      upstream_events=events, response_body=b"data: changed\n\n", upstream_body=b"data: orig\n\n")
    store.put([rec])
    assert store.ids() == [rec.id]
    assert store.docs([rec.id])[0] == json.loads(json.dumps(rec.doc))
    parts = store.parts(rec.id)
    assert parts["client_request"] == rec.parts["client_request"]
    assert parts["request"] == rec.parts["request"]
    assert parts["upstream_response"] == b"data: orig\n\n"
    assert parts["response"] == b"data: changed\n\n"
    assert json.loads(parts["upstream_events"])[0][1] == "message_start"


def test_identical_phases_are_stored_once_and_large_bodies_compressed(store: FlowStore) -> None:
    big = {"model": "m", "messages": [{"role": "user", "content": "lorem ipsum " * 800}]}
    rec = make_record(body=big)
    store.put([rec])
    rows = dict(store.db.execute("SELECT name, blob FROM parts WHERE flow_id = ?", (rec.id,)).fetchall())
    assert rows["client_request"] == rows["request"]
    kinds = dict(store.db.execute("SELECT b.size, d.kind FROM blobs b JOIN blob_data d USING (id)").fetchall())
    message = json.dumps(big["messages"][0]).encode()
    assert kinds[len(message)] == blobs.ZLIB, "the long message is a compressed chunk of its own"
    assert kinds[len(json.dumps(big))] == blobs.RECIPE
    assert store.parts(rec.id)["request"] == json.dumps(big).encode()


def test_writing_a_flow_again_replaces_it(store: FlowStore) -> None:
    rec = make_record(status=401)
    store.put([rec])
    again = make_record(fid=rec.id, status=200)
    store.put([again])
    assert store.count() == 1
    assert store.docs([rec.id])[0]["response"]["status_code"] == 200


def test_order_is_oldest_first_and_docs_text_is_one_array(store: FlowStore) -> None:
    recs = [make_record(ts=1000.0 + i) for i in (3, 1, 2)]
    store.put(recs)
    by_ts = [r.id for r in sorted(recs, key=lambda r: r.ts)]
    assert store.ids() == by_ts
    assert [d["id"] for d in json.loads(store.docs_text())] == by_ts
    assert [d["id"] for d in store.docs(list(reversed(by_ts)))] == list(reversed(by_ts))


def test_retention_by_count_keeps_the_newest(store: FlowStore) -> None:
    recs = [make_record(ts=2_000_000_000.0 + i) for i in range(10)]
    store.put(recs)
    removed = store.apply_retention(max_count=4, max_age_days=3650, now=2_000_000_100.0)
    assert removed == 6
    assert store.ids() == [r.id for r in recs[-4:]]
    assert store.db.execute("SELECT count(DISTINCT flow_id) FROM parts").fetchone()[0] == 4


def test_retention_by_age(store: FlowStore) -> None:
    now = 2_000_000_000.0
    old, new = make_record(ts=now - 3 * 86400), make_record(ts=now - 3600)
    store.put([old, new])
    assert store.apply_retention(max_count=100, max_age_days=2, now=now) == 1
    assert store.ids() == [new.id]


def test_prefix_matching(store: FlowStore) -> None:
    a = make_record(fid="abc12345-0000-0000-0000-000000000001")
    b = make_record(fid="abc12399-0000-0000-0000-000000000002")
    store.put([a, b])
    assert store.match_prefix("abc123") == [a.id, b.id]
    assert store.match_prefix("ABC1234") == [a.id]
    assert store.match_prefix("abc_") == []
    assert store.match_prefix("zzz") == []


def _file_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("flows.sqlite3"))


def test_deleting_removes_the_bytes_from_the_file_and_wal(store: FlowStore, tmp_path: Path) -> None:
    marker = "MARKER-7f3a9c-do-not-keep"
    secret = make_record(body={"model": "m", "messages": [{"role": "user", "content": marker}]},
                         fid="dead0000-0000-0000-0000-000000000000")
    big_message = {"role": "user", "content": marker * 400}
    big = make_record(body={"model": "m", "messages": [big_message]})
    keep = make_record(body={"model": "m", "messages": [{"role": "user", "content": "keep me"}]})
    store.put([secret, big, keep])
    packed = zlib.compress(json.dumps(big_message).encode(), 1)  # the chunk as the blob table holds it
    before = _file_bytes(tmp_path)
    assert marker.encode() in before and packed[:64] in before
    assert store.delete([secret.id, big.id]) == 2
    after = _file_bytes(tmp_path)
    assert marker.encode() not in after
    assert packed[:64] not in after
    assert b"dead0000" not in after
    assert store.ids() == [keep.id]
    assert store.parts(keep.id)["client_request"] == keep.parts["client_request"]


def test_delete_all_empties_the_store(store: FlowStore, tmp_path: Path) -> None:
    store.put([make_record() for _ in range(5)])
    assert store.delete_all() == 5
    assert store.count() == 0
    assert b"sk-real-secret-key-123" not in _file_bytes(tmp_path)


# -- an agent session: shared content, disk handed back --------------------------------------------
def _noise_record(ts: float, size: int = 40_000) -> FlowRecord:
    """A flow whose body compresses to nothing and shares nothing, so its pages are its own."""
    return make_record(ts=ts, body={"model": "m", "messages": [{"role": "user", "content": os.urandom(size).hex()}]})


def test_an_agent_session_grows_linearly_and_shares_what_it_resends(store: FlowStore) -> None:
    turns = list(session(60, seed=1))
    sizes = []
    for i, turn in enumerate(turns, 1):
        store.put([turn.record])
        if i in (20, 40, 60):
            sizes.append(store.file_stats()["blob_bytes"])
    sent = sum(len(t.record.parts["client_request"]) for t in turns)
    assert sizes[2] < sent / 10, "a re-sent conversation is stored once, not once per turn"
    growth = [sizes[1] - sizes[0], sizes[2] - sizes[1]]
    assert growth[1] < growth[0] * 1.5, f"each 20 turns add about as much as the 20 before: {sizes}"
    for turn in turns:
        assert store.parts(turn.record.id) == turn.record.parts


def test_a_chunk_outlives_the_flow_that_stored_it_while_another_uses_it(store: FlowStore) -> None:
    first, second = (t.record for t in session(2, seed=2))
    store.put([first, second])
    store.delete([first.id])
    assert FlowStore(store.path).parts(second.id) == second.parts
    store.delete([second.id])
    assert store.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM blob_data").fetchone()[0] == 0


def test_writing_a_flow_again_releases_what_only_the_old_version_used(store: FlowStore) -> None:
    old = _noise_record(1.0)
    store.put([old])
    new = make_record(fid=old.id, ts=1.0)
    store.put([new])
    assert store.parts(old.id) == new.parts
    assert store.file_stats()["blob_content_bytes"] < 10_000


def test_retention_hands_the_freed_pages_back_to_the_file_system(store: FlowStore, tmp_path: Path) -> None:
    store.put([_noise_record(2_000_000_000.0 + i, size=150_000) for i in range(60)])
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = store.file_stats()
    size_before = (tmp_path / "flows.sqlite3").stat().st_size
    assert store.apply_retention(max_count=3, max_age_days=3650, now=2_000_000_100.0) == 57
    after = store.file_stats()
    assert after["freelist_count"] <= 256
    assert after["page_count"] < before["page_count"] / 4
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (tmp_path / "flows.sqlite3").stat().st_size < size_before / 4


def test_delete_and_clear_hand_the_freed_pages_back(store: FlowStore, tmp_path: Path) -> None:
    recs = [_noise_record(1000.0 + i, size=150_000) for i in range(40)]
    store.put(recs)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = (tmp_path / "flows.sqlite3").stat().st_size
    store.delete([r.id for r in recs[:38]])
    assert (tmp_path / "flows.sqlite3").stat().st_size < full / 4
    assert store.file_stats()["freelist_count"] <= 256
    store.delete_all()
    assert (tmp_path / "flows.sqlite3").stat().st_size < 100_000


def test_a_writer_stays_right_when_another_process_deletes_what_it_remembers(store: FlowStore) -> None:
    turns = [t.record for t in session(4, seed=5)]
    store.put(turns[:2])
    with FlowStore(store.path) as cli:  # `flows clear` in another process sweeps the shared chunks
        cli.delete([turns[0].id, turns[1].id])
    store.put(turns[2:3])
    with FlowStore(store.path) as cli:
        cli.delete_all()
    store.put(turns[3:])
    with FlowStore(store.path) as reader:
        assert reader.ids() == [turns[3].id]
        assert reader.parts(turns[3].id) == turns[3].parts


def test_iter_docs_walks_every_doc_in_order(store: FlowStore) -> None:
    recs = [make_record(ts=1000.0 + (i % 7), fid=f"{i:08d}-0000-0000-0000-000000000000") for i in range(23)]
    store.put(recs)
    assert [d["id"] for d in store.iter_docs(batch=5)] == store.ids()


def test_a_large_prune_hands_pages_back_in_bounded_steps_across_calls(
        store: FlowStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "RECLAIM_BUDGET", 300)
    monkeypatch.setattr(store_module, "RECLAIM_STEP", 100)
    store.put([_noise_record(2_000_000_000.0 + i, size=100_000) for i in range(60)])
    store.apply_retention(max_count=2, max_age_days=3650, now=2_000_000_100.0)
    first = store.file_stats()["freelist_count"]
    assert first > 256 + 600, "one call hands back at most its budget"
    store.apply_retention(max_count=2, max_age_days=3650, now=2_000_000_100.0)
    assert store.file_stats()["freelist_count"] == first - 300, "the next call goes on where it stopped"


def test_summaries_page_through_the_summary_columns(store: FlowStore) -> None:
    recs = [make_record(ts=1000.0 + i, status=200 if i % 2 else 500) for i in range(5)]
    store.put(recs)
    page = store.summaries(limit=2, offset=1)
    assert [s["id"] for s in page] == [recs[1].id, recs[2].id]
    assert [s["status"] for s in page] == [200, 500]
    assert page[0]["provider"] == "anthropic" and page[0]["path"] == "/v1/messages"
    assert len(store.summaries()) == 5
