"""The MCP server of a running daemon, through the official MCP Python client over streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anthropic
import httpx
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR

from ccproxy.config.loader import load_config
from ccproxy.flows.library import FlowLibrary
from tests.daemon import SECRETS, RunningDaemon, free_port, wait_for
from tests.fakes.provider import FakeProvider

TOOLS = {"list_flows", "get_flow", "get_request_body", "get_response_body", "compare_flows", "diff_flows",
         "dump_har", "clear_flows", "list_conversations", "explain_cache", "lint_streams", "turn_diff",
         "context_breakdown", "quota_status", "session_cost", "replay_flow",
         "capture_shape", "list_shapes", "status",
         "namespace_status"}
SESSION_A = "5e55a000-0000-4000-8000-00000000000a"
SESSION_B = "5e55b000-0000-4000-8000-00000000000b"


def mcp_url(daemon: RunningDaemon) -> str:
    return str(daemon.state["listeners"]["mcp"]["url"])


def mcp_ready(daemon: RunningDaemon) -> RunningDaemon:
    """Wait until the MCP app answers: it is built in the background after the proxy is up."""

    def answers() -> bool:
        try:
            res = httpx.get(mcp_url(daemon), headers={"authorization": f"Bearer {daemon.state['mcp_token']}"},
                            timeout=2)
        except httpx.HTTPError:
            return False
        return res.status_code != 401

    wait_for(answers, 60, 0.1, "the MCP server to answer")
    return daemon


@asynccontextmanager
async def connect(daemon: RunningDaemon, token: str | None = None, mode: str = "legacy") -> AsyncIterator[Client]:
    token = token if token is not None else daemon.state["mcp_token"]
    async with (
        create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(mcp_url(daemon), http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        yield client


def leaves(group: BaseException) -> list[BaseException]:
    """The innermost exceptions of (nested) exception groups."""
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in leaves(inner)]
    return [group]


def text(result: Any) -> str:
    assert not result.is_error, result.content[0].text
    return str(result.content[0].text)


def stored_count(daemon: RunningDaemon) -> int:
    return len(FlowLibrary(load_config(daemon.config_dir), daemon.config_dir).ids())


def anthropic_client(daemon: RunningDaemon) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)


def user_id(session: str) -> dict[str, str]:
    return {"user_id": f"user_0a1b_account_2c3d_session_{session}"}


def mitmweb_ids(daemon: RunningDaemon) -> list[str]:
    req = urllib.request.Request(daemon.inspector_url + "/flows",
                                 headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return [f["id"] for f in json.load(resp)]


def send_traffic(daemon: RunningDaemon) -> str:
    """Real SDK traffic: JSON, a stream, OpenAI, a provider error and one huge prompt; returns the prompt."""
    client = anthropic_client(daemon)
    client.messages.create(model="claude-test", max_tokens=16, metadata=user_id(SESSION_A),  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "plan the trip"}])
    with client.messages.stream(model="claude-test", max_tokens=16,
                                messages=[{"role": "user", "content": "stream please"}]) as stream:
        assert "".join(stream.text_stream) == "Hello from the fake provider."
    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi from openai"}])
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="claude-error-500", max_tokens=16,
                               messages=[{"role": "user", "content": "this one fails"}])
    huge = " ".join(f"word{i}" for i in range(9000))
    client.messages.create(model="claude-big", max_tokens=16, messages=[{"role": "user", "content": huge}])
    wait_for(lambda: stored_count(daemon) == 5, 15, what="five flows in the store")
    return huge


def test_every_tool_over_streamable_http(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    huge = send_traffic(mcp_ready(daemon))
    big_forwarded = fake_provider.requests[-1].json

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with connect(daemon) as client:
            assert client.server_info is not None and client.server_info.name == "ccproxy"
            assert client.instructions and "list_flows" in client.instructions
            tools = (await client.list_tools()).tools
            out["tools"] = {t.name: t for t in tools}
            call = client.call_tool
            out["all"] = json.loads(text(await call("list_flows", {})))
            out["openai"] = json.loads(text(await call("list_flows", {
                "jq": ['map(select(.ccproxy.model == "gpt-test"))']})))
            out["newest2"] = json.loads(text(await call("list_flows", {"limit": 2})))
            big_id = out["all"]["flows"][-1]["id"]
            out["flow"] = json.loads(text(await call("get_flow", {"id": big_id[:8]})))
            stream_id = out["all"]["flows"][1]["id"]
            out["stream"] = json.loads(text(await call("get_flow", {"id": stream_id})))
            out["newest"] = json.loads(text(await call("get_flow", {"jq": [".[:1]"]})))
            pages, offset = [], 0
            for _ in range(40):
                page = text(await call("get_request_body", {"id": big_id, "offset": offset, "max_chars": 30000}))
                if offset:
                    page = page.split("\n", 1)[1]
                body, _, marker = page.partition("\n…[ccproxy: truncated at char ")
                pages.append(body)
                if not marker:
                    break
                assert f'get_request_body(id="{big_id}", phase="request", offset=' in marker
                offset = int(marker.split(" ", 1)[0])
            out["pages"] = pages
            out["client_body"] = text(await call("get_request_body", {"id": big_id, "phase": "client_request",
                                                                      "max_chars": 500}))
            out["response"] = text(await call("get_response_body", {"id": stream_id, "phase": "upstream_response"}))
            out["compare"] = text(await call("compare_flows", {"jq": ['map(select(.ccproxy.model == "gpt-test"))']}))
            out["compare_json"] = json.loads(text(await call("compare_flows", {"id": big_id, "json": True,
                                                                                "max_chars": 100000})))
            out["diff"] = text(await call("diff_flows", {"jq": [".[:2]"]}))
            out["diff_one"] = await call("diff_flows", {"jq": [".[:1]"]})
            out["har"] = json.loads(text(await call("dump_har", {"jq": [".[:3]"], "max_chars": 100000})))
            out["har_page"] = text(await call("dump_har", {"max_chars": 1000}))
            out["conversations"] = json.loads(text(await call("list_conversations", {})))
            out["status"] = json.loads(text(await call("status", {})))
            out["resource"] = json.loads((await client.read_resource("proxy://status")).contents[0].text)  # type: ignore[union-attr]
            out["namespace"] = json.loads(text(await call("namespace_status", {})))
            out["missing"] = await call("get_flow", {"id": "zzzz"})
            out["cleared"] = json.loads(text(await call("clear_flows", {
                "jq": ["map(select(.response.status_code >= 400))"]})))
            out["after"] = json.loads(text(await call("list_flows", {})))
        return out

    out = asyncio.run(scenario())
    assert set(out["tools"]) == TOOLS
    assert all(t.description and t.input_schema["type"] == "object" for t in out["tools"].values())

    rows = out["all"]["flows"]
    assert out["all"]["total"] == 5
    assert [r["model"] for r in rows] == ["claude-test", "claude-test", "gpt-test", "claude-error-500", "claude-big"]
    assert rows[0]["session_id"] == SESSION_A and rows[3]["status"] == 500 and rows[2]["provider"] == "openai"
    assert [r["id"] for r in out["openai"]["flows"]] == [rows[2]["id"]]
    assert out["newest2"]["total"] == 5 and [r["id"] for r in out["newest2"]["flows"]] == [r["id"] for r in rows[3:]]

    flow = out["flow"]
    assert flow["flow"]["id"] == rows[4]["id"] and flow["flow"]["ccproxy"]["auth_injected"] is True
    assert flow["bodies"]["request"]["chars"] > 70000 and len(flow["bodies"]["request"]["text"]) < 2300
    assert flow["answers"]["upstream"]["text"] == "Hello from the fake provider."
    assert out["stream"]["events"]["upstream"] > 3 and out["stream"]["answers"]["client"]["complete"] is True
    assert out["stream"]["answers"]["upstream"]["text"] == "Hello from the fake provider."
    assert out["newest"]["flow"]["id"] == rows[0]["id"]
    assert json.loads("".join(out["pages"])) == big_forwarded
    assert len(out["pages"]) == 3 and huge[:50] in out["pages"][0] + out["pages"][1]
    assert "truncated at char 500 of" in out["client_body"]
    assert "event: message_start" in out["response"] and "data:" in out["response"]

    assert f"=== flow {rows[2]['id'][:8]}" in out["compare"] and rows[0]["id"][:8] not in out["compare"]
    assert "~ authorization:" in out["compare"]
    assert out["compare_json"][0]["id"] == rows[4]["id"]
    assert f"flow:{rows[0]['id'][:8]}" in out["diff"] and f"flow:{rows[1]['id'][:8]}" in out["diff"]
    assert out["diff_one"].is_error and "at least 2 flows" in out["diff_one"].content[0].text
    assert [p["id"] for p in out["har"]["log"]["pages"]] == [r["id"] for r in rows[:3]]
    assert re.search(r"truncated at char 1000 of \d+.*dump_har\(jq=<same>, offset=1000\)", out["har_page"])

    sessions = out["conversations"]["sessions"]
    assert out["conversations"]["conversations"] == 5 and SESSION_A in [s["session_id"] for s in sessions]
    status = out["status"]
    assert status["mcp_url"] == mcp_url(daemon) and status["proxy_url"] == daemon.proxy_url
    assert status["pipeline"]["outbound"] == ["gemini_cli", "inject_mcp_notifications"] and status["flows"]["stored"] == 5
    assert out["resource"]["listeners"] == status["listeners"]
    assert out["namespace"]["privacy_claim"] is False
    assert out["missing"].is_error and "no stored flow id starts with 'zzzz'" in out["missing"].content[0].text

    assert out["cleared"] == {"cleared": 1, "ids": [rows[3]["id"]]}
    assert [r["id"] for r in out["after"]["flows"]] == [r["id"] for r in rows if r["status"] != 500]
    wait_for(lambda: rows[3]["id"] not in mitmweb_ids(daemon), 5, what="the cleared flow gone from mitmweb")
    assert rows[0]["id"] in mitmweb_ids(daemon)

    everything = json.dumps({k: v for k, v in out.items() if k not in ("tools", "diff_one", "missing")})
    for secret in (*SECRETS.values(), daemon.state["mcp_token"], daemon.state["web_token"]):
        assert secret not in everything


def test_without_the_token_nothing_but_401(daemon: RunningDaemon) -> None:
    url = mcp_url(mcp_ready(daemon))
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"accept": "application/json, text/event-stream"}
    for auth in ({}, {"authorization": "Bearer not-the-token"}, {"authorization": daemon.state["mcp_token"]}):
        for method, target in (("POST", url), ("GET", url), ("POST", url + "/notify"), ("GET", url[:-4] + "/x")):
            res = httpx.request(method, target, json=init, headers={**headers, **auth}, timeout=5)
            assert res.status_code == 401 and res.content == b"", (method, target, auth)

    statuses: list[int] = []

    async def wrong_token() -> None:
        async def note(response: Any) -> None:
            statuses.append(response.status_code)

        async with create_mcp_http_client(headers={"Authorization": "Bearer not-the-token"}) as http:
            http.event_hooks["response"].append(note)
            async with Client(streamable_http_client(mcp_url(daemon), http_client=http)):
                pass

    with pytest.raises(ExceptionGroup) as err:
        asyncio.run(wrong_token())
    # The SDK turns the HTTP 401 into this JSON-RPC error; the hook saw the status itself.
    assert err.group_contains(MCPError, match="^Server returned an error response$")
    (leaf,) = leaves(err.value)
    assert isinstance(leaf, MCPError) and leaf.error.code == INTERNAL_ERROR
    assert statuses and set(statuses) == {401}  # every request the client made was refused

    ok = httpx.post(url, json=init, headers={**headers, "authorization": f"Bearer {daemon.state['mcp_token']}"},
                    timeout=5)
    assert ok.status_code == 200


def test_status_reports_and_checks_the_mcp_server(daemon: RunningDaemon) -> None:
    token = mcp_ready(daemon).state["mcp_token"]
    assert (daemon.config_dir / "ccproxy.state.json").stat().st_mode & 0o777 == 0o600
    assert daemon.cli("status", "--mcp").returncode == 0
    doc = json.loads(daemon.cli("status", "--json").stdout)
    assert doc["mcp"]["up"] is True and doc["mcp"]["url"] == mcp_url(daemon)
    snippet = doc["mcp"]["client_config"]["mcpServers"]["ccproxy"]
    assert snippet["url"] == mcp_url(daemon) and snippet["type"] == "http"
    assert token not in json.dumps(doc) and "<" in snippet["headers"]["Authorization"]
    shown = json.loads(daemon.cli("status", "--json", "--show-secrets").stdout)
    assert shown["mcp"]["client_config"]["mcpServers"]["ccproxy"]["headers"]["Authorization"] == f"Bearer {token}"
    assert token not in daemon.log_text()
    daemon.stop()
    assert daemon.cli("status", "--mcp").returncode == 4


def test_disabled_server_does_not_listen(daemon_factory: Callable[..., RunningDaemon]) -> None:
    d = daemon_factory(config={"mcp": {"http": {"enabled": False}}})
    port = d.config["ccproxy"]["mcp"]["http"]["port"]
    assert "mcp" not in d.state["listeners"] and d.state["mcp_token"] is None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert d.cli("status", "--mcp").returncode == 4


def test_token_from_a_credential_source(daemon_factory: Callable[..., RunningDaemon]) -> None:
    d = daemon_factory(config={"mcp": {"http": {"auth": {"type": "env", "env": "MY_MCP_TOKEN"}}}},
                       env={"MY_MCP_TOKEN": "tok-from-env-4242"})
    assert mcp_ready(d).state["mcp_token"] == "tok-from-env-4242"

    async def tools() -> set[str]:
        async with connect(d, token="tok-from-env-4242", mode="auto") as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert asyncio.run(tools()) == TOOLS
    assert "tok-from-env-4242" not in d.log_text()


def test_a_busy_mcp_port_stops_the_start(daemon_factory: Callable[..., RunningDaemon]) -> None:
    d = daemon_factory(start=False)
    port = free_port()
    d.config["ccproxy"]["mcp"]["http"]["port"] = port
    d.config_dir.mkdir(parents=True)
    (d.config_dir / "ccproxy.yaml").write_text(json.dumps(d.config))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        res = d.cli("start", timeout=30)
    assert res.returncode == 1 and f"MCP server port 127.0.0.1:{port} is already in use" in res.stderr
    assert "Traceback" not in res.stderr


def notify(daemon: RunningDaemon, doc: dict[str, Any], token: str | None = None) -> httpx.Response:
    token = token if token is not None else daemon.state["mcp_token"]
    return httpx.post(mcp_url(daemon) + "/notify", json=doc, headers={"authorization": f"Bearer {token}"}, timeout=5)


def test_notifications_reach_the_next_request_of_their_session_only(daemon: RunningDaemon,
                                                                     fake_provider: FakeProvider) -> None:
    assert notify(mcp_ready(daemon), {"task_id": "x", "session_id": SESSION_A, "event": {}}, token="wrong").status_code == 401
    assert notify(daemon, {"task_id": "x", "event": {}}).status_code == 400
    for i, state in enumerate(("running", "done")):
        res = notify(daemon, {"task_id": "build-42", "session_id": SESSION_A, "event": {"status": state, "step": i}})
        assert res.status_code == 202 and res.json()["buffered"] == i + 1
    assert notify(daemon, {"task_id": "deploy-9", "session_id": "mcptty-77", "claude_session_id": SESSION_B,
                           "event": {"status": "queued"}}).status_code == 202

    client = anthropic_client(daemon)
    client.messages.create(model="claude-test", max_tokens=16, metadata=user_id("5e55c000-0000-4000-8000-0000000000cc"),  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "unrelated session"}])
    other = fake_provider.requests[-1].json
    assert len(other["messages"]) == 1 and "tools" not in other

    answer = client.messages.create(model="claude-test", max_tokens=16, metadata=user_id(SESSION_A),  # type: ignore[arg-type]
                                    messages=[{"role": "user", "content": "how is the build?"}])
    assert answer.content[0].type == "text", "the client sees an ordinary answer"
    sent = fake_provider.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    call, result = sent[1]["content"][0], sent[2]["content"][0]
    assert call["type"] == "tool_use" and call["name"] == "tasks_get" and call["input"] == {"taskId": "build-42"}
    assert result["type"] == "tool_result" and result["tool_use_id"] == call["id"]
    assert json.loads(result["content"]) == {"taskId": "build-42", "events": [
        {"status": "running", "step": 0}, {"status": "done", "step": 1}]}

    client.messages.create(model="claude-test", max_tokens=16, metadata=user_id(SESSION_A),  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "and now?"}])
    assert len(fake_provider.requests[-1].json["messages"]) == 1, "drained: delivered once"

    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    oai.chat.completions.create(model="gpt-test", metadata=user_id(SESSION_B),
                                messages=[{"role": "user", "content": "deploy?"}])
    msgs = fake_provider.requests[-1].json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool"]
    assert msgs[1]["tool_calls"][0]["function"]["name"] == "tasks_get"
    assert msgs[2]["tool_call_id"] == msgs[1]["tool_calls"][0]["id"]
    assert json.loads(msgs[2]["content"])["events"] == [{"status": "queued"}]

    wait_for(lambda: stored_count(daemon) == 4, 15, what="four flows in the store")
    docs = FlowLibrary(load_config(daemon.config_dir), daemon.config_dir).docs()
    marks = [d["ccproxy"]["extra"].get("mcp_notifications") for d in docs]
    assert marks == [None, {"tasks": ["build-42"], "events": 2, "as": "tool"}, None,
                     {"tasks": ["deploy-9"], "events": 1, "as": "tool"}]


def test_capture_shape_saves_a_real_capture_and_list_shapes_shows_it(daemon: RunningDaemon) -> None:
    client = anthropic_client(mcp_ready(daemon))
    client.messages.create(model="claude-test", max_tokens=16, metadata=user_id(SESSION_A),  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "the captured prompt"}],
                           extra_headers={"anthropic-beta": "mcp-shape-beta"})
    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "not the anthropic one"}])
    wait_for(lambda: stored_count(daemon) == 2, 15, what="two flows in the store")
    docs = FlowLibrary(load_config(daemon.config_dir), daemon.config_dir).docs()
    anthropic_id = next(d["id"] for d in docs if d["ccproxy"]["provider"] == "anthropic")

    async def scenario() -> dict[str, Any]:
        async with connect(daemon) as client:
            call = client.call_tool
            return {
                "before": json.loads(text(await call("list_shapes", {}))),
                "saved": json.loads(text(await call("capture_shape", {"provider": "anthropic"}))),
                "listed": json.loads(text(await call("list_shapes", {}))),
                "unknown": await call("capture_shape", {"provider": "nobody"}),
                "no_flow": await call("capture_shape", {"provider": "gemini"}),
                "bad_jq": await call("capture_shape", {"provider": "anthropic", "jq": ["map(select("]}),
            }

    out = asyncio.run(scenario())
    path = daemon.config_dir / "shapes" / "anthropic.json"
    saved = out["saved"]
    assert out["before"] == []
    assert (saved["file"], saved["provider"], saved["form"], saved["flow_id"]) == (
        str(path), "anthropic", "json", anthropic_id)
    assert saved["endpoint"].startswith("POST ") and saved["endpoint"].endswith("/v1/messages")
    assert "anthropic-beta" in saved["headers"] and "x-api-key" in saved["removed"]["headers"]
    assert path.stat().st_mode & 0o777 == 0o600
    written = path.read_text()
    assert json.loads(written)["source"]["flow_id"] == anthropic_id
    assert "mcp-shape-beta" in written and "the captured prompt" not in written
    for secret in (*SECRETS.values(), "sk-ant-oat-ccproxy", daemon.state["mcp_token"]):
        assert secret not in written and secret not in json.dumps(saved)

    cli = daemon.cli("shapes", "list", "--json")
    assert cli.returncode == 0 and out["listed"] == json.loads(cli.stdout)
    [row] = out["listed"]
    assert (row["provider"], row["form"], row["flow_id"], row["file"]) == ("anthropic", "json", anthropic_id, str(path))

    assert out["unknown"].is_error and "no provider named 'nobody'" in out["unknown"].content[0].text
    assert out["no_flow"].is_error and "gemini.capture.path_pattern" in out["no_flow"].content[0].text
    assert out["bad_jq"].is_error and "jq" in out["bad_jq"].content[0].text
    assert [p.name for p in path.parent.iterdir()] == ["anthropic.json"]


def test_replay_flow_asks_another_model_over_mcp(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    """What would GPT have answered on this exact turn: the MCP tool replays it translated, recorded and linked."""
    mcp_ready(daemon)
    anthropic_client(daemon).messages.create(model="claude-sonnet-4-5", max_tokens=16,
                                             messages=[{"role": "user", "content": "which model?"}])
    wait_for(lambda: stored_count(daemon) == 1, 15, what="the original flow in the store")
    original = FlowLibrary(load_config(daemon.config_dir), daemon.config_dir).ids()[0]
    fake_provider.reset()

    async def scenario() -> dict[str, Any]:
        async with connect(daemon) as client:
            result = await client.call_tool("replay_flow", {"id": original[:8], "to": "openai/gpt-4o-mini"})
            return dict(json.loads(text(result)))

    out = asyncio.run(scenario())
    (replay,) = out["replays"]
    assert replay["replay_of"] == original and replay["provider"] == "openai" and out["missing"] == 0
    assert replay["text"] == out["original"]["text"] == "Hello from the fake provider."
    (sent,) = fake_provider.requests
    assert sent.path.endswith("/chat/completions") and sent.json["model"] == "gpt-4o-mini"
