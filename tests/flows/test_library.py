"""FlowLibrary: the one resolution of a flow set (all -> default filters -> each --jq) and what is read from it."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import FlowError, UsageError
from ccproxy.flows.library import FlowLibrary
from ccproxy.sessions.library import SessionLibrary
from ccproxy.sessions.tree import walk
from ccproxy.store.api import store_path
from ccproxy.store.record import FlowRecord
from tests.sessions.agent_session import records
from tests.store.factory import make_record

Stored = Callable[..., list[FlowRecord]]


def test_no_store_yet_is_an_empty_set(tmp_path: Path, config: CCProxyConfig) -> None:
    assert FlowLibrary(config, tmp_path).docs() == []
    assert FlowLibrary(config, tmp_path).json_text() == "[]"
    with pytest.raises(FlowError, match="no flows recorded yet"):
        FlowLibrary(config, tmp_path).get_flow("abc")


def test_the_set_is_oldest_first_then_default_filters_then_cli_filters(
        tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    a, b, c = stored(make_record(ts=3.0, status=500), make_record(ts=1.0), make_record(ts=2.0, status=429))
    assert [f["id"] for f in FlowLibrary(config, tmp_path).docs()] == [b.id, c.id, a.id]
    config.flows.default_jq_filters = ["map(select(.response.status_code >= 400))"]
    assert FlowLibrary(config, tmp_path).ids() == [c.id, a.id]
    assert FlowLibrary(config, tmp_path).ids([".[-1:]"]) == [a.id]
    with pytest.raises(UsageError, match="default_jq_filters"):
        config.flows.default_jq_filters = ["map(select("]
        FlowLibrary(config, tmp_path).ids()


def test_prefix_ids_unique_ambiguous_and_missing(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    one = make_record(fid="abcd1111-0000-4000-8000-000000000001")
    two = make_record(fid="abcd2222-0000-4000-8000-000000000002")
    stored(one, two)
    assert FlowLibrary(config, tmp_path).get_flow("abcd1").id == one.id
    assert FlowLibrary(config, tmp_path).find_id("ABCD2222") == two.id
    with pytest.raises(UsageError, match="ambiguous") as info:
        FlowLibrary(config, tmp_path).find_id("abcd")
    assert "abcd1111" in str(info.value) and "abcd2222" in str(info.value)
    with pytest.raises(FlowError, match="no stored flow id starts with 'ffff'"):
        FlowLibrary(config, tmp_path).find_id("ffff")
    with pytest.raises(FlowError, match="leave it out"):
        FlowLibrary(config, tmp_path).find_id("abcd1", [f'map(select(.id == "{two.id}"))'])
    assert FlowLibrary(config, tmp_path).find_id("abcd", [f'map(select(.id == "{two.id}"))']) == two.id
    with pytest.raises(UsageError):
        FlowLibrary(config, tmp_path).find_id("  ")


def test_compare_and_diff_through_the_api(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    same = make_record(ts=1.0)
    changed = make_record(ts=2.0, forwarded_body={"model": "claude-y", "messages": []})
    stored(same, changed)
    comps = FlowLibrary(config, tmp_path).compare()
    assert [c.id for c in comps] == [same.id, changed.id]
    assert comps[0].request.bodies_identical and not comps[1].request.bodies_identical
    diffs = FlowLibrary(config, tmp_path).diff()
    assert len(diffs) == 1 and diffs[0].identical is False
    with pytest.raises(UsageError, match="at least 2 flows"):
        FlowLibrary(config, tmp_path).diff([".[:1]"])


def test_clear_a_set_or_everything(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    recs = stored(*(make_record(ts=float(i), status=200 if i % 2 else 500) for i in range(6)))
    removed = FlowLibrary(config, tmp_path).clear(["map(select(.response.status_code == 500))"])
    assert sorted(removed) == sorted(r.id for r in recs if r.doc["response"]["status_code"] == 500)
    assert len(FlowLibrary(config, tmp_path).ids()) == 3
    config.flows.default_jq_filters = [".[:0]"]
    assert FlowLibrary(config, tmp_path).clear() == []
    assert len(FlowLibrary(config, tmp_path).clear(all_flows=True)) == 3
    config.flows.default_jq_filters = []
    assert FlowLibrary(config, tmp_path).ids() == []


def test_har_through_the_api(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(make_record(), make_record())
    har = FlowLibrary(config, tmp_path).to_har([".[-1:]"])
    assert len(har["log"]["pages"]) == 1 and len(har["log"]["entries"]) == 2
    raw = FlowLibrary(config, tmp_path).to_har(redacted=False)
    assert "sk-real-secret-key-123" in str(raw) and "sk-real-secret-key-123" not in str(har)


def test_newest_reads_only_the_tail_and_counts_the_set(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    recs = stored(*[make_record(ts=10.0 + i, status=200 if i % 2 else 500) for i in range(9)])
    assert FlowLibrary(config, tmp_path).newest((), 3) == (9, [r.doc for r in recs[-3:]])
    total, docs = FlowLibrary(config, tmp_path).newest(["map(select(.response.status_code == 500))"], 2)
    assert total == 5 and [d["id"] for d in docs] == [recs[6].id, recs[8].id]
    assert FlowLibrary(config, tmp_path).newest((), 0)[1] == [r.doc for r in recs]




def test_latest_is_the_newest_of_the_set_or_none(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    lib = FlowLibrary(config, tmp_path)
    assert lib.latest() is None
    old, new = stored(make_record(ts=1.0, status=500), make_record(ts=2.0))
    latest = lib.latest()
    assert latest is not None and latest.id == new.id
    newest_error = lib.latest(["map(select(.response.status_code == 500))"])
    assert newest_error is not None and newest_error.id == old.id
    assert lib.latest([".[:0]"]) is None


def test_every_view_reads_the_same_resolved_set(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    """Default filters apply to every method alike, so the CLI, MCP and the viewer never disagree on a set."""
    recs = stored(*records())
    lib = FlowLibrary(config, tmp_path)
    config.flows.default_jq_filters = ['map(select(.id | startswith("a")))']
    kept = [r.id for r in recs if r.id.startswith("a")]
    assert lib.ids() == kept and [d["id"] for d in lib.docs()] == kept
    assert [f.id for f in lib.load_set()] == kept and [f.id for f in lib.iter_flows(lib.ids(), chunk=2)] == kept
    assert lib.newest() == (len(kept), lib.docs())
    assert {t["flow_id"] for c in walk(SessionLibrary(lib).tree()) for t in c["turns"]} == set(kept)
    assert {r["flow_id"] for r in SessionLibrary(lib).lint()} <= set(kept)
    assert all(t["flow_id"] in kept for c in SessionLibrary(lib).cache() for t in c["turns"])
    with pytest.raises(FlowError, match="leave it out"):
        SessionLibrary(lib).turn_diff(next(r.id for r in recs if not r.id.startswith("a")))


def test_the_library_crosses_into_a_worker_process_as_config_and_paths(tmp_path: Path, config: CCProxyConfig) -> None:
    lib = pickle.loads(pickle.dumps(FlowLibrary(config, tmp_path)))
    assert lib.store_path == store_path(config, tmp_path) and lib.config_dir == tmp_path
    assert lib.ids() == [] and "no flow store in config dir" in lib.empty_reason()
