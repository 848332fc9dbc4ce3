from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.daemon.chain import build_services
from ccproxy.flowmeta import get_meta
from ccproxy.hooks.inject_mcp_notifications import Params, inject_mcp_notifications
from ccproxy.mcp.notifications import Notification, NotificationBuffer
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.loader import load_hook
from ccproxy.wire import anthropic, gemini, openai_chat, openai_responses
from ccproxy.wire.neutral import Text, ToolCall, ToolResult

PATHS = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "openai_responses": "/v1/responses",
    "gemini": "/v1beta/models/gemini-x:generateContent",
}
PARSERS = {
    "anthropic": anthropic.parse_request,
    "openai": openai_chat.parse_request,
    "openai_responses": openai_responses.parse_request,
    "gemini": gemini.parse_request,
}
BODIES: dict[str, dict[str, Any]] = {
    "anthropic": {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "status?"}]},
    "openai": {"model": "gpt-x", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "status?"}]},
    "openai_responses": {"model": "gpt-x", "input": "status?"},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "status?"}]}]},
}


def flow_for(fmt: str, body: dict[str, Any], session: str | None = "sess-1") -> Any:
    flow = tflow.tflow()
    flow.request.method = "POST"
    flow.request.path = PATHS[fmt]
    flow.request.content = json.dumps(body).encode()
    get_meta(flow).session_id = session
    return flow


def run(flow: Any, buffer: NotificationBuffer | None, params: Params | None = None) -> None:
    services = build_services(CCProxyConfig(), Path("."), buffer)
    ctx = HookContext(flow=flow, config=CCProxyConfig(), stage="outbound", params=params or Params(), services=services)
    inject_mcp_notifications(ctx)


def buffered(*notes: tuple[str, str, dict[str, Any]]) -> NotificationBuffer:
    buf = NotificationBuffer()
    for task, session, event in notes:
        buf.add(Notification(task_id=task, session_id=session, event=event))
    return buf


@pytest.mark.parametrize("fmt", list(PATHS))
def test_events_become_a_call_and_result_pair_the_format_parser_accepts(fmt: str) -> None:
    buf = buffered(("build-7", "sess-1", {"status": "done", "exit": 0}),
                   ("test-2", "sess-1", {"status": "failed"}),
                   ("build-7", "sess-1", {"status": "uploaded"}))
    flow = flow_for(fmt, BODIES[fmt])
    run(flow, buf)
    body = json.loads(flow.request.content)
    warnings: list[str] = []
    req = PARSERS[fmt](body, warnings)
    assert req.messages[-3].role == "user" and any(
        isinstance(p, Text) and p.text == "status?" for p in req.messages[-3].parts)
    calls = [p for p in req.messages[-2].parts if isinstance(p, ToolCall)]
    results = [p for m in req.messages[-1:] for p in m.parts if isinstance(p, ToolResult)]
    assert [c.name for c in calls] == ["tasks_get", "tasks_get"]
    assert [c.arguments for c in calls] == [{"taskId": "build-7"}, {"taskId": "test-2"}]
    if fmt != "gemini":  # Gemini pairs calls and results by name and position, not by id
        assert [r.call_id for r in results] == [c.id for c in calls]
    docs = [json.loads("".join(t.text for t in r.content if isinstance(t, Text))) for r in results]
    assert docs[0]["taskId"] == "build-7" and docs[0]["events"] == [
        {"status": "done", "exit": 0}, {"status": "uploaded"}]
    assert docs[1]["events"] == [{"status": "failed"}]
    assert buf.stats() == {"tasks": 0, "events": 0}
    assert get_meta(flow).mcp_notifications == {"tasks": ["build-7", "test-2"], "events": 3, "as": "tool"}


def test_other_sessions_and_an_empty_buffer_change_nothing() -> None:
    buf = buffered(("t", "someone-else", {"x": 1}))
    for session in ("sess-1", None):
        flow = flow_for("anthropic", BODIES["anthropic"], session)
        before = flow.request.content
        run(flow, buf)
        assert flow.request.content == before and get_meta(flow).mcp_notifications is None
    assert buf.stats() == {"tasks": 1, "events": 1}, "the other session's events wait for it"
    flow = flow_for("anthropic", BODIES["anthropic"])
    before = flow.request.content
    run(flow, NotificationBuffer())
    run(flow, None)
    assert flow.request.content == before


def test_requests_that_cannot_take_a_turn_leave_the_events_buffered() -> None:
    buf = buffered(("t", "sess-1", {"x": 1}))
    prefill = {"model": "c", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    count_tokens = flow_for("anthropic", BODIES["anthropic"])
    count_tokens.request.path = "/v1/messages/count_tokens"
    not_json = flow_for("anthropic", BODIES["anthropic"])
    not_json.request.content = b"not json"
    for flow in (flow_for("anthropic", prefill), count_tokens, not_json):
        before = flow.request.content
        run(flow, buf)
        assert flow.request.content == before
    assert buf.stats() == {"tasks": 1, "events": 1}


def test_anthropic_tools_are_declared_only_when_the_request_has_none() -> None:
    own_tool = {"name": "bash", "description": "d", "input_schema": {"type": "object"}}
    with_tools = {**BODIES["anthropic"], "tools": [own_tool]}
    flow = flow_for("anthropic", with_tools)
    run(flow, buffered(("t", "sess-1", {"x": 1})), Params(tool_name="watch_status"))
    body = json.loads(flow.request.content)
    assert body["tools"] == [own_tool], "the client's tool list (and its cache prefix) stays as it was"
    assert body["messages"][-2]["content"][0]["name"] == "watch_status"
    flow = flow_for("anthropic", BODIES["anthropic"])
    run(flow, buffered(("t", "sess-1", {"x": 1})))
    assert [t["name"] for t in json.loads(flow.request.content)["tools"]] == ["tasks_get"]


def test_anthropic_with_thinking_gets_the_events_as_text_in_the_last_user_turn() -> None:
    body = {**BODIES["anthropic"], "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "status?"}]}]}
    flow = flow_for("anthropic", body)
    run(flow, buffered(("t", "sess-1", {"state": "green"})))
    sent = json.loads(flow.request.content)
    assert len(sent["messages"]) == 1 and "tools" not in sent
    blocks = sent["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "status?"}
    assert blocks[1]["text"].startswith('<mcp_notifications tool="tasks_get">')
    assert json.loads(blocks[1]["text"].split(">", 1)[1].rsplit("<", 1)[0]) == [
        {"taskId": "t", "events": [{"state": "green"}]}]
    assert get_meta(flow).mcp_notifications["as"] == "text"


def test_it_loads_as_an_outbound_hook_with_params() -> None:
    spec = load_hook({"hook": "ccproxy.hooks.inject_mcp_notifications", "params": {"tool_name": "x"}}, "t")
    assert spec.stage == "outbound" and spec.writes == {"request.body"}
    assert isinstance(spec.params, Params) and spec.params.tool_name == "x"
    assert CCProxyConfig().hooks.outbound == ["ccproxy.hooks.gemini_cli", "ccproxy.hooks.inject_mcp_notifications"]
