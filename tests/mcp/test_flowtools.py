from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import FlowError, UsageError
from ccproxy.flows.library import FlowLibrary
from ccproxy.mcp.flowtools import FlowTools, filters
from ccproxy.store.record import FlowRecord
from tests.store.factory import fixture_bytes, fixture_events, make_record

Stored = Callable[..., list[FlowRecord]]


def conversation(first: str, turns: int, ts: float, **kw: object) -> list[FlowRecord]:
    """`turns` requests of one conversation: each resends the history plus one more user message."""
    out, messages = [], [{"role": "user", "content": first}]
    for i in range(turns):
        out.append(make_record(ts=ts + i, body={"model": "claude-x", "messages": list(messages)}, **kw))  # type: ignore[arg-type]
        messages += [{"role": "assistant", "content": f"answer {i}"}, {"role": "user", "content": f"more {i}"}]
    return out


def test_filters_accept_a_list_a_string_or_nothing() -> None:
    assert filters(None) == [] and filters("") == [] and filters(".[-1:]") == [".[-1:]"]
    assert filters([".[-1:]", " ", "map(.)"]) == [".[-1:]", "map(.)"]


def test_list_flows_rows_limit_and_jq(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    a, b, c = stored(make_record(ts=1.0), make_record(ts=2.0, status=500), make_record(ts=3.0))
    tools = FlowTools(FlowLibrary(config, tmp_path))
    doc = tools.list_flows()
    assert doc["total"] == 3 and [r["id"] for r in doc["flows"]] == [a.id, b.id, c.id]
    row = doc["flows"][1]
    assert (row["method"], row["status"], row["path"], row["model"], row["source"]) == (
        "POST", 500, "/v1/messages", "claude-x", "reverse")
    assert [r["id"] for r in tools.list_flows(limit=2)["flows"]] == [b.id, c.id]
    errors = tools.list_flows(["map(select(.response.status_code >= 400))"])
    assert errors["total"] == 1 and errors["flows"][0]["id"] == b.id
    config.flows.default_jq_filters = ["map(select(.response.status_code < 400))"]
    assert [r["id"] for r in tools.list_flows([".[-1:]"])["flows"]] == [c.id]
    with pytest.raises(UsageError):
        tools.list_flows(["map(select("])


def test_get_flow_has_phases_previews_answers_and_masks(tmp_path: Path, config: CCProxyConfig,
                                                      stored: Stored) -> None:
    big = {"model": "claude-x", "api_key": "sk-body-secret-77777",
           "messages": [{"role": "user", "content": "word " * 2000}]}
    events = fixture_events("anthropic_stream_text.sse")
    (rec,) = stored(make_record(body=big, upstream_events=events,
                                response_body=fixture_bytes("anthropic_stream_text.sse"),
                                resp_headers=[["content-type", "text/event-stream"]]))
    tools = FlowTools(FlowLibrary(config, tmp_path))
    doc = tools.get_flow(rec.id[:6])
    assert doc["flow"]["id"] == rec.id and doc["flow"]["ccproxy"]["provider"] == "anthropic"
    assert set(doc["bodies"]) == {"client_request", "request", "upstream_response", "response"}
    req = doc["bodies"]["request"]
    assert req["chars"] > 10_000 and len(req["text"]) < 2_300
    assert f'get_request_body(id="{rec.id}", phase="request", offset=2000)' in req["text"]
    assert doc["answers"]["upstream"]["text"] and doc["answers"]["upstream"]["complete"] is True
    assert doc["events"]["upstream"] == len(events)
    text = json.dumps(doc)
    assert "sk-body-secret-77777" not in text and "sk-real-secret-key-123" not in text
    assert tools.get_flow(None)["flow"]["id"] == rec.id, "no id: the newest flow of the set"


def test_bodies_page_through_the_whole_text(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    body = {"model": "claude-x", "messages": [{"role": "user", "content": f"line {i}"} for i in range(800)]}
    (rec,) = stored(make_record(body=body, forwarded_body={**body, "model": "claude-y"}))
    tools = FlowTools(FlowLibrary(config, tmp_path))
    first = tools.body(rec.id, "request", max_chars=5000)
    assert first.count("\n…[ccproxy: truncated at char 5000 of ") == 1
    whole = json.loads(tools.body(rec.id, "request", max_chars=100_000))
    assert whole["model"] == "claude-y" and len(whole["messages"]) == 800
    client = json.loads(tools.body(rec.id, "client_request", max_chars=100_000))
    assert client["model"] == "claude-x"
    pages, offset = [], 0
    for _ in range(50):
        text = tools.body(rec.id, "request", offset=offset, max_chars=5000)
        if offset:
            text = text.split("\n", 1)[1]
        body_part, sep, mark = text.partition("\n…[ccproxy: truncated at char ")
        pages.append(body_part)
        if not sep:
            break
        offset = int(mark.split(" ", 1)[0])
    assert json.loads("".join(pages)) == whole
    assert "has no upstream response body" in tools.body(
        stored(make_record(status=None))[0].id, "upstream_response")


def test_compare_diff_and_har(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    same, changed = stored(make_record(ts=1.0), make_record(ts=2.0, forwarded_body={"model": "claude-y", "messages": []}))
    tools = FlowTools(FlowLibrary(config, tmp_path))
    text = tools.compare()
    assert f"=== flow {same.id[:8]}" in text and f"=== flow {changed.id[:8]}" in text
    assert '+  "model": "claude-y"' in text
    one = json.loads(tools.compare(flow_id=changed.id[:8], as_json=True))
    assert [c["id"] for c in one] == [changed.id] and one[0]["request"]["bodies_identical"] is False
    only_same = tools.compare([f'map(select(.id == "{same.id}"))'])
    assert changed.id[:8] not in only_same and "request bodies are identical" in only_same
    assert f"flow:{same.id[:8]}" in tools.diff()
    with pytest.raises(UsageError, match="at least 2 flows"):
        tools.diff([".[-1:]"])
    har = json.loads(tools.dump_har(max_chars=100_000))
    assert [p["id"] for p in har["log"]["pages"]] == [same.id, changed.id]
    assert "sk-real-secret-key-123" not in json.dumps(har)
    cut = tools.dump_har(max_chars=500)
    assert len(cut) < 700 and "dump_har(jq=<same>, offset=500)" in cut


def test_clear_removes_only_the_set(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    ok, bad = stored(make_record(ts=1.0), make_record(ts=2.0, status=500))
    tools = FlowTools(FlowLibrary(config, tmp_path))
    result = tools.clear(["map(select(.response.status_code >= 400))"])
    assert result == {"cleared": 1, "ids": [bad.id]}
    assert [r["id"] for r in tools.list_flows()["flows"]] == [ok.id]
    stored(make_record(ts=3.0))
    assert tools.clear(all_flows=True)["cleared"] == 2
    assert tools.list_flows()["total"] == 0
    with pytest.raises(FlowError, match="no flows in the set"):
        tools.get_flow(None)


def test_conversations_group_every_turn(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    first = conversation("plan the trip", 3, 10.0)
    second = conversation("fix the bug", 2, 20.0, provider="openai")
    stored(*first, *second)
    tools = FlowTools(FlowLibrary(config, tmp_path))
    doc = tools.conversations()
    assert doc["total"] == 2
    a, b = doc["conversations"]
    assert a["flow_ids"] == [r.id for r in first] and a["flows"] == 3
    assert b["flow_ids"] == [r.id for r in second] and b["models"] == ["claude-x"]
    assert a["statuses"] == {"200": 3}
    only = tools.conversations([f'map(select(.id == "{second[0].id}"))'])
    assert only["total"] == 1 and only["conversations"][0]["flows"] == 1
