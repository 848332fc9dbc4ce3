"""The loop guard on a scripted agent that keeps calling the same tool, through the real SDKs, streamed and not."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

SESSION = "5e55a0de-0000-4000-8000-00000000100b"
TOOLS: list[Any] = [{"name": "get_weather", "description": "weather", "input_schema": {
    "type": "object", "properties": {"location": {"type": "string"}}}}]
OPENAI_TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}}}}]


def guarded(daemon_factory: Callable[..., RunningDaemon], **params: Any) -> RunningDaemon:
    inbound = ["ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id",
               {"hook": "ccproxy.hooks.loop_guard", "params": {"repeat_calls": 3, **params}}]
    return daemon_factory(config={"hooks": {"inbound": inbound}})


def anthropic_agent(client: anthropic.Anthropic, turns: int, stream: bool) -> int:
    """Ask, run the tool, ask again; returns how many requests went through before an error stopped it."""
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    ask: dict[str, Any] = {"model": "claude-test", "max_tokens": 64, "tools": TOOLS,
                           "metadata": {"user_id": f"user_1_account_2_session_{SESSION}"}}
    for _ in range(turns):
        if stream:
            with client.messages.stream(messages=messages, **ask) as s:
                reply = s.get_final_message()
        else:
            reply = client.messages.create(messages=messages, **ask)
        messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
        call = next((b for b in reply.content if b.type == "tool_use"), None)
        if call is not None:
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]})
        else:
            messages.append({"role": "user", "content": "check again"})
    return turns


def openai_agent(client: openai.OpenAI, turns: int, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    for _ in range(turns):
        if stream:
            calls: dict[int, dict[str, str]] = {}
            text = ""
            for chunk in client.chat.completions.create(model="gpt-test", messages=messages, tools=OPENAI_TOOLS,
                                                        stream=True):
                delta = chunk.choices[0].delta if chunk.choices else None
                text += (delta.content or "") if delta else ""
                for tc in (delta.tool_calls or []) if delta else []:
                    entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    entry["id"] = tc.id or entry["id"]
                    entry["name"] += (tc.function.name or "") if tc.function else ""
                    entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
            tool_calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                          for c in calls.values()]
        else:
            msg = client.chat.completions.create(model="gpt-test", messages=messages, tools=OPENAI_TOOLS).choices[0].message
            text = msg.content or ""
            tool_calls = [c.model_dump() for c in msg.tool_calls or []]
        messages.append({"role": "assistant", "content": text or None, **({"tool_calls": tool_calls} if tool_calls else {})})
        if tool_calls:
            messages.append({"role": "tool", "tool_call_id": tool_calls[0]["id"], "content": "sunny"})
        else:
            messages.append({"role": "user", "content": "check again"})


def stored_guard(daemon: RunningDaemon, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        docs: list[dict[str, Any]] = json.loads(daemon.cli("flows", "list", "--json").stdout or "[]")
        return docs if len(docs) >= count else None

    docs: list[dict[str, Any]] = wait_for(ready, timeout=20, what=f"{count} stored flows")
    return [d["ccproxy"]["extra"].get("loop_guard") for d in docs]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_stop_refuses_the_looping_anthropic_agent(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, stream: bool
) -> None:
    daemon = guarded(daemon_factory, action="stop")
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    sent_before = len(fake_provider.requests)
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_agent(client, 10, stream)
    message = str(caught.value)
    assert "loop guard stopped this request" in message and "get_weather" in message
    assert "made 3 times (limit 3)" in message and "x-ccproxy-hooks: -loop_guard" in message
    # Requests 1-5 carried at most 2 identical calls; the 6th (3 calls) never reached the provider.
    assert len(fake_provider.requests) - sent_before == 5
    decisions = stored_guard(daemon, 6)
    assert [d["action"] for d in decisions] == ["pass"] * 5 + ["stop"]
    assert decisions[-1]["findings"][0]["rule"] == "repeated_call"
    # Lifted per request: the same conversation goes through with the header.
    lifted = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0,
                                 default_headers={"x-ccproxy-hooks": "-loop_guard"})
    assert anthropic_agent(lifted, 6, stream) == 6


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_stop_answers_an_openai_agent_in_its_own_format(
    daemon_factory: Callable[..., RunningDaemon], stream: bool
) -> None:
    daemon = guarded(daemon_factory, action="stop")
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        openai_agent(client, 10, stream)
    assert caught.value.status_code == 400 and "loop guard stopped this request" in caught.value.message
    assert isinstance(caught.value.body, dict) and "loop guard" in caught.value.body["message"]


def test_warn_tells_the_agent_and_lets_it_go_on(daemon_factory: Callable[..., RunningDaemon],
                                                 fake_provider: FakeProvider) -> None:
    daemon = guarded(daemon_factory)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    sent_before = len(fake_provider.requests)
    assert anthropic_agent(client, 8, stream=True) == 8
    sent = [json.dumps(r.json) for r in fake_provider.requests[sent_before:]]
    told = [i for i, body in enumerate(sent) if "ccproxy-loop-guard" in body]
    assert told and told[0] == 5, told  # the 6th request (3 identical calls) carries the warning itself
    decisions = stored_guard(daemon, 8)
    assert decisions[5]["action"] == "warn" and decisions[5]["notified"] is True
    assert "loop guard: the tool call get_weather" in daemon.log_text()
