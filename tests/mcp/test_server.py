from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mcp import Client
from starlette.testclient import TestClient

from ccproxy.config.model import CCProxyConfig
from ccproxy.mcp.notifications import NotificationBuffer
from ccproxy.mcp.server import NOTIFY_MAX_BYTES, build_app, build_server
from ccproxy.mcp.status import DaemonFacts
from ccproxy.store.record import FlowRecord
from tests.store.factory import make_record

Stored = Callable[..., list[FlowRecord]]
TOOLS = {"list_flows", "get_flow", "get_request_body", "get_response_body", "compare_flows", "diff_flows",
         "dump_har", "clear_flows", "list_conversations", "explain_cache", "lint_streams", "turn_diff",
         "context_breakdown", "quota_status",
         "capture_shape", "list_shapes", "status",
         "namespace_status", "session_cost", "replay_flow"}


def facts(config: CCProxyConfig, config_dir: Path, buffer: NotificationBuffer | None = None) -> DaemonFacts:
    return DaemonFacts(config, config_dir, time.time() - 5, lambda: {"proxy": "http://127.0.0.1:1"}, buffer)


def call(server: Any, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    async def run() -> list[Any]:
        async with Client(server) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(run())


def test_every_tool_is_described_with_a_followable_schema(tmp_path: Path, config: CCProxyConfig) -> None:
    async def run() -> Any:
        async with Client(build_server(facts(config, tmp_path))) as client:
            return (await client.list_tools()).tools, (await client.list_resources()).resources

    tools, resources = asyncio.run(run())
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.input_schema["type"] == "object"
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
    by_name = {t.name: t for t in tools}
    assert by_name["clear_flows"].annotations.destructive_hint is True
    assert by_name["list_flows"].annotations.read_only_hint is True
    assert "jq" in by_name["get_flow"].input_schema["properties"]
    assert by_name["get_request_body"].input_schema["properties"]["phase"]["enum"] == ["request", "client_request"]
    assert by_name["capture_shape"].input_schema["required"] == ["provider"]
    assert by_name["capture_shape"].annotations.destructive_hint is True
    assert by_name["list_shapes"].annotations.read_only_hint is True
    assert by_name["replay_flow"].annotations.read_only_hint is False  # it spends money
    assert by_name["replay_flow"].annotations.open_world_hint is True
    assert by_name["session_cost"].annotations.read_only_hint is True
    assert [str(r.uri) for r in resources] == ["proxy://status"]


def test_tools_answer_with_the_flow_library(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    a, b = stored(make_record(ts=1.0), make_record(ts=2.0, status=502))
    forgotten: list[tuple[Sequence[str], bool]] = []
    server = build_server(facts(config, tmp_path), lambda ids, every: forgotten.append((ids, every)))
    listed, one_filter, missing, bad_jq, cleared, after = call(
        server,
        ("list_flows", {}),
        ("list_flows", {"jq": "map(select(.response.status_code >= 500))"}),
        ("get_flow", {"id": "ffffffff"}),
        ("list_flows", {"jq": ["map(select("]}),
        ("clear_flows", {"jq": [f'map(select(.id == "{b.id}"))']}),
        ("list_flows", {}),
    )
    assert [r["id"] for r in json.loads(listed.content[0].text)["flows"]] == [a.id, b.id]
    assert [r["id"] for r in json.loads(one_filter.content[0].text)["flows"]] == [b.id]
    assert missing.is_error and "no stored flow id starts with 'ffffffff'" in missing.content[0].text
    assert bad_jq.is_error and "jq" in bad_jq.content[0].text.lower()
    assert json.loads(cleared.content[0].text) == {"cleared": 1, "ids": [b.id]}
    assert forgotten == [([b.id], False)]
    assert [r["id"] for r in json.loads(after.content[0].text)["flows"]] == [a.id]


def test_shape_tools_report_errors_and_an_empty_store(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(make_record())
    nobody, bad_name, listed = call(build_server(facts(config, tmp_path)),
                                    ("capture_shape", {"provider": "nobody"}),
                                    ("capture_shape", {"provider": "../x"}),
                                    ("list_shapes", {}))
    assert nobody.is_error and "no provider named 'nobody'" in nobody.content[0].text
    assert bad_name.is_error and "cannot name a shape file" in bad_name.content[0].text
    assert json.loads(listed.content[0].text) == [] and not (tmp_path / "shapes").exists()


def test_status_tool_and_resource_agree_and_hold_no_token(tmp_path: Path, config: CCProxyConfig,
                                                          stored: Stored) -> None:
    stored(make_record())
    buffer = NotificationBuffer()
    server = build_server(facts(config, tmp_path, buffer))

    async def run() -> Any:
        async with Client(server) as client:
            return await client.call_tool("status", {}), await client.read_resource("proxy://status")

    tool, resource = asyncio.run(run())
    doc, res = json.loads(tool.content[0].text), json.loads(resource.contents[0].text)
    assert doc["flows"]["stored"] == 1 == res["flows"]["stored"]
    assert doc["listeners"] == {"proxy": "http://127.0.0.1:1"} and doc["uptime_s"] >= 5
    assert doc["notifications"] == {"tasks": 0, "events": 0}
    assert doc["pipeline"]["outbound"] == ["gemini_cli", "inject_mcp_notifications"]


def test_notify_route_behind_the_gate(tmp_path: Path, config: CCProxyConfig) -> None:
    buffer = NotificationBuffer()
    app = build_app(facts(config, tmp_path, buffer), "tok-123", "127.0.0.1")
    auth = {"authorization": "Bearer tok-123"}
    good = {"task_id": "build-1", "session_id": "sess-9", "event": {"status": "running"}}
    with TestClient(app, base_url="http://127.0.0.1:4030") as client:
        assert client.post("/mcp/notify", json=good).status_code == 401
        assert client.post("/mcp/notify", json=good, headers={"authorization": "Bearer nope"}).status_code == 401
        assert buffer.stats() == {"tasks": 0, "events": 0}
        bad = client.post("/mcp/notify", json={"task_id": "x"}, headers=auth)
        assert bad.status_code == 400 and "session_id" in bad.json()["error"]
        huge = client.post("/mcp/notify", headers=auth,
                           json={**good, "event": {"log": "x" * (NOTIFY_MAX_BYTES + 1)}})
        assert huge.status_code == 413
        ok = client.post("/mcp/notify", json=good, headers=auth)
        assert ok.status_code == 202 and ok.json() == {"status": "buffered", "task_id": "build-1", "buffered": 1}
    (drained,) = buffer.drain("sess-9")
    assert drained.events == [{"status": "running"}]


def test_a_flow_with_a_huge_header_is_answered_within_the_cap_and_pages_to_the_end(
        tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    """A 2 MB header made get_flow answer over 1 MiB, which broke MCP clients; now it is cut and paged."""
    from ccproxy.mcp.paging import ANSWER_CAP

    huge = "h" * 2_000_000
    (rec,) = stored(make_record(forwarded_headers=[["content-type", "application/json"], ["x-huge", huge]]))
    server = build_server(facts(config, tmp_path))
    (first,) = call(server, ("get_flow", {"id": rec.id}))
    text = first.content[0].text
    assert not first.is_error and len(text.encode()) <= ANSWER_CAP
    doc = json.loads(text)  # still a structured answer, the long field cut with a marker
    value = dict(map(tuple, doc["flow"]["request"]["headers"]))["x-huge"]
    assert value.startswith("hhhh") and f'get_flow(id="{rec.id}", full=true) pages the whole flow JSON' in value

    pieces, offset = [], 0
    for _ in range(100):  # bounded: follow the markers to the end
        (page,) = call(server, ("get_flow", {"id": rec.id, "full": True, "offset": offset, "max_chars": 100_000}))
        chunk = page.content[0].text
        assert len(chunk.encode()) <= ANSWER_CAP
        if offset:
            chunk = chunk.partition("\n")[2]
        body, marked, mark = chunk.rpartition("\n…[ccproxy: truncated")
        if not marked:
            pieces.append(chunk)
            break
        pieces.append(body)
        offset = int(mark.rsplit("offset=", 1)[1].split(")")[0])
    whole = json.loads("".join(pieces))
    assert dict(map(tuple, whole["flow"]["request"]["headers"]))["x-huge"] == huge


def test_every_answer_is_capped_even_a_long_list(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    from ccproxy.mcp.paging import ANSWER_CAP

    stored(*[make_record(ts=float(i), path="/v1/messages?" + "p" * 3_000) for i in range(200)])
    (listed,) = call(build_server(facts(config, tmp_path)), ("list_flows", {"limit": 1000}))
    text = listed.content[0].text
    assert len(text.encode()) <= ANSWER_CAP
    assert "answer cut at char" in text and "Narrow the set with `jq`" in text
