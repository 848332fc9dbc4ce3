"""`flows.retention.max_disk_mb`: bodies go first, summaries and facts stay; whole flows only after."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.cli.main import main
from ccproxy.config.model import CCProxyConfig
from ccproxy.store.api import store_path
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord
from ccproxy.store.stored_flow import EVICTED
from ccproxy.store.writerproc import Retention, disk_bytes
from tests.sessions.agent_session import records as session_records
from tests.store.factory import make_record

Stored = Callable[..., list[FlowRecord]]


def _bulky(count: int, pad: int = 10_000, header: int = 0) -> list[FlowRecord]:
    """Flows whose bodies (and, with `header`, whose docs) do not compress."""
    now = time.time()
    headers = [["content-type", "application/json"], ["x-pad", os.urandom(header).hex()]] if header else None
    return [make_record(ts=now - 1000 + i, body={"model": "m", "pad": os.urandom(pad).hex()},
                        forwarded_headers=headers) for i in range(count)]


def _enforce(store: FlowStore, budget_mb: float) -> Retention:
    retention = Retention(store, max_count=100_000, max_age_days=3650, max_disk_mb=budget_mb)
    retention.after_write(0, 10**9)  # as much written as forces a check now
    return retention


def test_the_budget_evicts_the_oldest_bodies_and_keeps_every_flow_row_and_its_facts(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    recs = _bulky(60)  # 1.2 MB of bodies for a 0.6 MB budget; the rows alone take a fraction
    with FlowStore(path, create=True) as store:
        store.put(recs)
        ids = [r.id for r in recs]
        facts_before = [f.pack() for f in store.facts(ids)]
        retention = _enforce(store, 0.6)
        assert retention.evicted > 0 and store.count() == 60  # no flow removed
        assert disk_bytes(path) <= 600_000 * 1.1
        assert [f.pack() for f in store.facts(ids)] == facts_before  # facts untouched
        docs = {d["id"]: d for d in store.docs(ids)}
        evicted = [i for i in ids if docs[i]["ccproxy"].get("bodies_evicted")]
        assert evicted == ids[: len(evicted)] and len(evicted) == retention.evicted  # the oldest ones
        assert all(store.parts(i) == {} for i in evicted)
        kept = ids[len(evicted):]
        assert kept and store.parts(kept[-1]) == recs[-1].parts  # the newest read back byte for byte
        assert store.bodies_kept() == len(kept)


def test_when_the_rows_alone_exceed_the_budget_whole_flows_go_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "flows.sqlite3"
    recs = _bulky(150, pad=2_000, header=3_000)  # docs of ~6 KB that do not compress: ~0.9 MB of rows
    with FlowStore(path, create=True) as store:
        store.put(recs)
        for _ in range(3):  # each round is a few bounded passes; the writer calls again after its next batch
            _enforce(store, 0.4)
        ids = store.ids()
        assert 0 < len(ids) < 150 and ids == [r.id for r in recs[-len(ids):]]  # the oldest went
        assert disk_bytes(path) <= 400_000 * 1.1
        assert store.bodies_kept() == 1  # every body but the newest went before any flow did
        assert store.parts(ids[-1]) == recs[-1].parts


def test_an_evicted_flow_still_lists_and_trees_and_its_views_say_why(
        tmp_path: Path, stored: Stored, config: CCProxyConfig, capsys: pytest.CaptureFixture[str]) -> None:
    recs = stored(*session_records())

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(tmp_path), "flows", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    tree_before = run("tree", "--json")
    listed_before = run("list", "--all")[1]
    with FlowStore(store_path(config, tmp_path)) as store:
        assert store.evict_bodies(keep=1) == len(recs) - 1
        assert store.evict_bodies(keep=1) == 0  # nothing left to evict but the newest
    assert run("tree", "--json") == tree_before  # the tree reads facts, which stayed
    assert run("list", "--all")[1] == listed_before
    code, out, _ = run("list", "--json")
    assert code == 0 and sum(1 for d in json.loads(out) if d["ccproxy"].get("bodies_evicted")) == len(recs) - 1
    assert run("cache", "a3")[0] == 0
    assert run("lint")[0] in (0, 1)  # a verdict, not a crash
    oldest = recs[0].id
    code, out, err = run("show", oldest[:8])
    assert code == 0 and EVICTED in out and "(body evicted by the disk budget)" in out and not err
    code, out, _ = run("show", "--json", oldest[:8])
    shown = json.loads(out)
    assert code == 0 and shown["note"] == EVICTED and shown["bodies"] == {}
    assert shown["ccproxy"]["bodies_evicted"] is True
    code, out, err = run("compare", "--jq", f'map(select(.id == "{oldest}"))')
    assert code == 0 and f"note: {EVICTED}" in out
    code, out, err = run("dump")
    har = json.loads(out)
    assert code == 0 and f"{len(recs) - 1} of the {len(recs)} flow(s) dumped have no bodies" in err
    entries = [e for e in har["log"]["entries"] if e["_ccproxy"]["flow_id"] == oldest]
    assert len(entries) == 2 and all(EVICTED in e["comment"] and e["_ccproxy"]["bodies_evicted"] for e in entries)
    newest = [e for e in har["log"]["entries"] if e["_ccproxy"]["flow_id"] == recs[-1].id]
    assert not any("bodies_evicted" in e["_ccproxy"] for e in newest)
