from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy import flows
from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import FlowError, UsageError
from ccproxy.flows import api
from ccproxy.flows.record import FlowRecord
from tests.flows.factory import make_record

Stored = Callable[..., list[FlowRecord]]


def test_no_store_yet_is_an_empty_set(tmp_path: Path, config: CCProxyConfig) -> None:
    assert flows.resolve_set(config, tmp_path) == []
    assert flows.resolve_json(config, tmp_path) == "[]"
    with pytest.raises(FlowError, match="no flows recorded yet"):
        flows.get_flow(config, tmp_path, "abc")


def test_the_set_is_oldest_first_then_default_filters_then_cli_filters(
        tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    a, b, c = stored(make_record(ts=3.0, status=500), make_record(ts=1.0), make_record(ts=2.0, status=429))
    assert [f["id"] for f in flows.resolve_set(config, tmp_path)] == [b.id, c.id, a.id]
    config.flows.default_jq_filters = ["map(select(.response.status_code >= 400))"]
    assert flows.resolve_ids(config, tmp_path) == [c.id, a.id]
    assert flows.resolve_ids(config, tmp_path, [".[-1:]"]) == [a.id]
    with pytest.raises(UsageError, match="default_jq_filters"):
        config.flows.default_jq_filters = ["map(select("]
        flows.resolve_ids(config, tmp_path)


def test_prefix_ids_unique_ambiguous_and_missing(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    one = make_record(fid="abcd1111-0000-4000-8000-000000000001")
    two = make_record(fid="abcd2222-0000-4000-8000-000000000002")
    stored(one, two)
    assert flows.get_flow(config, tmp_path, "abcd1").id == one.id
    assert flows.find_id(config, tmp_path, "ABCD2222") == two.id
    with pytest.raises(UsageError, match="ambiguous") as info:
        flows.find_id(config, tmp_path, "abcd")
    assert "abcd1111" in str(info.value) and "abcd2222" in str(info.value)
    with pytest.raises(FlowError, match="no stored flow id starts with 'ffff'"):
        flows.find_id(config, tmp_path, "ffff")
    with pytest.raises(FlowError, match="leave it out"):
        flows.find_id(config, tmp_path, "abcd1", [f'map(select(.id == "{two.id}"))'])
    assert flows.find_id(config, tmp_path, "abcd", [f'map(select(.id == "{two.id}"))']) == two.id
    with pytest.raises(UsageError):
        flows.find_id(config, tmp_path, "  ")


def test_compare_and_diff_through_the_api(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    same = make_record(ts=1.0)
    changed = make_record(ts=2.0, forwarded_body={"model": "claude-y", "messages": []})
    stored(same, changed)
    comps = flows.compare(config, tmp_path)
    assert [c.id for c in comps] == [same.id, changed.id]
    assert comps[0].request.bodies_identical and not comps[1].request.bodies_identical
    diffs = flows.diff(config, tmp_path)
    assert len(diffs) == 1 and diffs[0].identical is False
    with pytest.raises(UsageError, match="at least 2 flows"):
        flows.diff(config, tmp_path, [".[:1]"])


def test_clear_a_set_or_everything(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    recs = stored(*(make_record(ts=float(i), status=200 if i % 2 else 500) for i in range(6)))
    removed = flows.clear(config, tmp_path, ["map(select(.response.status_code == 500))"])
    assert sorted(removed) == sorted(r.id for r in recs if r.doc["response"]["status_code"] == 500)
    assert len(flows.resolve_ids(config, tmp_path)) == 3
    config.flows.default_jq_filters = [".[:0]"]
    assert flows.clear(config, tmp_path) == []
    assert len(flows.clear(config, tmp_path, all_flows=True)) == 3
    config.flows.default_jq_filters = []
    assert flows.resolve_ids(config, tmp_path) == []


def test_har_through_the_api(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(make_record(), make_record())
    har = flows.to_har(config, tmp_path, [".[-1:]"])
    assert len(har["log"]["pages"]) == 1 and len(har["log"]["entries"]) == 2
    raw = flows.to_har(config, tmp_path, redacted=False)
    assert "sk-real-secret-key-123" in str(raw) and "sk-real-secret-key-123" not in str(har)


def test_newest_reads_only_the_tail_and_counts_the_set(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    recs = stored(*[make_record(ts=10.0 + i, status=200 if i % 2 else 500) for i in range(9)])
    assert api.newest(config, tmp_path, (), 3) == (9, [r.doc for r in recs[-3:]])
    total, docs = api.newest(config, tmp_path, ["map(select(.response.status_code == 500))"], 2)
    assert total == 5 and [d["id"] for d in docs] == [recs[6].id, recs[8].id]
    assert api.newest(config, tmp_path, (), 0)[1] == [r.doc for r in recs]


def test_status_reports_what_the_writer_lost_and_why(tmp_path: Path, config: CCProxyConfig) -> None:
    from ccproxy.flows.api import store_status, store_status_line
    from ccproxy.flows.writer import StoreWriter

    path = flows.store_path(config, tmp_path)
    writer = StoreWriter(path, max_count=100, max_age_days=3650).start()
    writer._lose(2, "SQLITE_FULL: database or disk is full")
    writer.close(10)
    doc = store_status(config, tmp_path)
    assert doc["flows_lost"] == 2 and doc["last_loss"]["cause"] == "SQLITE_FULL: database or disk is full"
    assert doc["path"] == str(path) and doc["exists"]
    assert "2 flow(s) could not be stored" in store_status_line(doc) and "SQLITE_FULL" in store_status_line(doc)
