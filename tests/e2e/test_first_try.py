"""What an agent CLI or SDK must get right on its first request, through the daemon and the real SDKs.

The fake provider enforces the real APIs' rules: a non-reasoning Chat/Responses model refuses any
reasoning setting with a 400, as OpenAI and many compatible servers do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.daemon import SECRETS, RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import THINKING_TEXT, FakeProvider


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    d = make_daemon(tmp_path_factory.mktemp("first-try"), _fake_session.host).start()
    yield d
    d.stop()


def claude(daemon: RunningDaemon, provider: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=daemon.proxy_url, api_key=f"sk-ant-oat-ccproxy-{provider}", max_retries=0
    )


def flows(daemon: RunningDaemon) -> list[dict[str, Any]]:
    res = daemon.cli("flows", "list", "--json")
    assert res.returncode == 0, res.stderr
    found: list[dict[str, Any]] = json.loads(res.stdout)
    return found


def sent(fake: FakeProvider) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.method == "POST"]


# --- 1: reasoning settings only where asked for and accepted --------------------------------------


@pytest.mark.parametrize(("model", "stream"), [("gpt-4.1", False), ("gpt-4o", True)], ids=["json", "sse"])
def test_thinking_client_to_non_reasoning_chat_model_works_and_is_remembered(
    daemon: RunningDaemon, fake_provider: FakeProvider, model: str, stream: bool
) -> None:
    """Claude Code's `thinking: adaptive` to gpt-4.1: refused once, retried without, left out after."""
    client = claude(daemon, "openai")
    kwargs: Any = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
                   "thinking": {"type": "enabled", "budget_tokens": 2048}}
    for _ in range(2):
        if stream:
            with client.messages.stream(**kwargs) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kwargs)
        assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the fake provider."
    bodies = sent(fake_provider)
    assert ["reasoning_effort" in b for b in bodies] == [True, False, False]  # refused, retried, remembered
    mine = [f for f in flows(daemon) if (f["ccproxy"].get("transform") or {}).get("model") == model]
    retried = [f for f in mine if f["ccproxy"]["extra"].get("param_retry") == "reasoning_effort"]
    assert len(retried) == 1 and retried[0]["response"]["status_code"] == 200
    assert any("refused reasoning_effort" in w for w in retried[0]["ccproxy"]["warnings"])
    later = [f for f in mine if f is not retried[0]]
    assert len(later) == 1 and any("reasoning_effort not sent" in w for w in later[0]["ccproxy"]["warnings"])


def test_disabled_thinking_sends_no_reasoning_setting(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    """Claude Code's title request (`thinking: disabled`) must not become `reasoning_effort: none`."""
    msg = claude(daemon, "openai").messages.create(
        model="gpt-4o-mini", max_tokens=16, messages=[{"role": "user", "content": "title?"}],
        thinking={"type": "disabled"},
    )
    assert msg.content[0].type == "text"
    assert [("reasoning_effort" in b) for b in sent(fake_provider)] == [False]


def test_reasoning_model_keeps_its_reasoning_effort(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    claude(daemon, "openai").messages.create(
        model="o4-mini", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
        thinking={"type": "enabled", "budget_tokens": 30000},
    )
    assert [b.get("reasoning_effort") for b in sent(fake_provider)] == ["high"]


def test_responses_upstream_refusing_reasoning_is_retried(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    msg = claude(daemon, "responses").messages.create(
        model="gpt-4.1-mini", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    assert msg.content[0].type == "text"
    assert [("reasoning" in b) for b in sent(fake_provider)] == [True, False]


def test_other_400s_are_not_retried(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    with pytest.raises(anthropic.BadRequestError, match="fake provider error 400"):
        claude(daemon, "openai").messages.create(
            model="gpt-4o-error-400", max_tokens=16, messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
    assert len(sent(fake_provider)) == 1


# --- 10: prompt-cache writes survive an OpenAI Chat end ---------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_cache_writes_from_a_chat_upstream_reach_an_anthropic_client(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    fake_provider.cache_write_tokens = 7
    client = claude(daemon, "openai")
    kwargs: Any = {"model": "o4-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**kwargs) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**kwargs)
    assert msg.usage.cache_creation_input_tokens == 7 and msg.usage.cache_read_input_tokens == 3


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_cache_writes_from_an_anthropic_upstream_reach_a_chat_client(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    fake_provider.cache_write_tokens = 7
    client = openai.OpenAI(
        base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0
    )
    messages: Any = [{"role": "user", "content": "hi"}]
    if stream:
        with client.chat.completions.stream(
            model="claude-test", messages=messages, stream_options={"include_usage": True}
        ) as s:
            out = s.get_final_completion()
    else:
        out = client.chat.completions.create(model="claude-test", messages=messages)
    assert out.usage is not None and out.usage.prompt_tokens_details is not None
    assert out.usage.prompt_tokens_details.cache_write_tokens == 7
    assert out.usage.prompt_tokens_details.cached_tokens == 3


# --- 7: `ccproxy run -- python my_agent.py` with SDKs built without a key ---------------------------

PLAIN_SDKS = (
    "import anthropic, openai\n"
    "from google import genai\n"
    "a = anthropic.Anthropic(max_retries=0)\n"
    "print(a.messages.create(model='m', max_tokens=8, messages=[{'role': 'user', 'content': 'hi'}]).content[0].text)\n"
    "o = openai.OpenAI(max_retries=0)\n"
    "print(o.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'hi'}]).choices[0].message.content)\n"
    "g = genai.Client()\n"
    "print(g.models.generate_content(model='gemini-2.5-flash', contents='hi').text)\n"
)


def test_run_gives_plain_sdk_clients_the_sentinel(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    unset = {k: "" for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")}
    res = daemon.cli("run", "--", sys.executable, "-c", PLAIN_SDKS, env=unset)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["Hello from the fake provider."] * 3
    assert [r.credential() for r in fake_provider.requests] == [
        SECRETS["FAKE_ANTHROPIC_KEY"], SECRETS["FAKE_OPENAI_KEY"], SECRETS["FAKE_GEMINI_KEY"]
    ]


def test_run_keeps_a_key_the_user_set(daemon: RunningDaemon) -> None:
    script = "import os; print(os.environ['ANTHROPIC_API_KEY'], os.environ['OPENAI_API_KEY'])"
    res = daemon.cli("run", "--", sys.executable, "-c", script,
                     env={"ANTHROPIC_API_KEY": "sk-ant-mine", "OPENAI_API_KEY": ""})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["sk-ant-mine", "sk-ant-oat-ccproxy-openai"]


# --- 6: a `command` credential is not a process per request ---------------------------------------


def test_command_credential_runs_once_for_many_requests(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    command = f"echo run >> {runs}; echo cmd-key-secret"
    provider = {"provider": "anthropic", "host": fake_provider.host, "scheme": "http",
                "auth": {"type": "command", "command": command}}
    d = daemon_factory({"providers": {"vault": provider}})
    client = claude(d, "vault")
    with ThreadPoolExecutor(8) as pool:  # concurrent first requests share one run (single flight)
        texts = list(pool.map(lambda _: client.messages.create(
            model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]).content[0], range(16)))
    assert len(texts) == 16 and runs.read_text().splitlines() == ["run"]
    assert {r.credential() for r in fake_provider.requests} == {"cmd-key-secret"}
    res = d.cli("status", "--json")
    assert res.returncode == 0, res.stderr
    resolved = json.loads(res.stdout)["providers"]["vault"]["auth_resolved"]
    assert resolved["cached_until"] - resolved["resolved_at"] == pytest.approx(300)
    assert "resolved" in d.cli("status").stdout


# --- 2: what a Chat upstream cannot take is translated or named -------------------------------------


def test_structured_output_and_dropped_fields_through_the_daemon(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    claude(daemon, "openai").messages.create(
        model="o3-structured", max_tokens=64, messages=[{"role": "user", "content": "title?"}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}},
                    "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}},
    )
    (body,) = sent(fake_provider)
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    (flow,) = [f for f in flows(daemon) if (f["ccproxy"].get("transform") or {}).get("model") == "o3-structured"]
    assert any("context_management" in w for w in flow["ccproxy"]["warnings"])


# --- 3: gemini-cli -> Anthropic with thinking: the signature rides in functionCall.id ------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_gemini_client_dropping_thoughts_keeps_anthropic_thinking_on(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    options = gtypes.HttpOptions(base_url=daemon.proxy_url, retry_options=gtypes.HttpRetryOptions(attempts=1))
    client = genai.Client(api_key="sk-ant-oat-ccproxy-anthropic", http_options=options)
    schema = {"type": "object", "properties": {"location": {"type": "string"}}}
    config = gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(name="get_weather",
                                                                              parameters_json_schema=schema)])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
        thinking_config=gtypes.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
        max_output_tokens=4096,
    )
    question = gtypes.Content(role="user", parts=[gtypes.Part(text="weather in Paris?")])
    if stream:
        chunks = list(client.models.generate_content_stream(model="claude-test", contents=[question], config=config))
        parts = [p for c in chunks if c.candidates and c.candidates[0].content
                 for p in c.candidates[0].content.parts or []]
    else:
        first = client.models.generate_content(model="claude-test", contents=[question], config=config)
        assert first.candidates and first.candidates[0].content
        parts = first.candidates[0].content.parts or []
    assert fake_provider.requests[-1].json["thinking"]["type"] == "enabled"
    calls = [p for p in parts if p.function_call]  # what gemini-cli keeps: the call with its id, no thoughts
    assert len(calls) == 1 and calls[0].function_call and calls[0].function_call.id
    answer = gtypes.Part(function_response=gtypes.FunctionResponse(
        id=calls[0].function_call.id, name="get_weather", response={"output": "sunny"}))
    contents = [question, gtypes.Content(role="model", parts=calls), gtypes.Content(role="user", parts=[answer])]
    second = client.models.generate_content(model="claude-test", contents=contents, config=config)
    assert second.text == "The weather in Paris is sunny."
    sent_body = fake_provider.requests[-1].json
    assert sent_body["thinking"]["type"] == "enabled"  # not switched off for the follow-up
    thinking = sent_body["messages"][1]["content"][0]
    assert thinking["type"] == "thinking" and fake_provider.signed[thinking["signature"]] == THINKING_TEXT


# --- 9: small things ---------------------------------------------------------------------------------


def test_a_head_probe_of_the_root_is_answered_and_not_recorded(daemon: RunningDaemon) -> None:
    import httpx

    before = len(flows(daemon))
    assert httpx.head(daemon.proxy_url + "/").status_code == 200  # Claude Code's reachability check
    assert httpx.get(daemon.proxy_url + "/").status_code == 501  # anything else at / is still not routed
    wait_for(lambda: len(flows(daemon)) > before, 20, 0.1, "the GET / flow to be recorded")
    assert not [f for f in flows(daemon) if f["request"]["method"] == "HEAD"]


def test_show_says_a_locally_answered_flow_was_not_forwarded(daemon: RunningDaemon) -> None:
    with pytest.raises(anthropic.BadRequestError):
        claude(daemon, "nosuch").messages.create(model="m-local", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    wait_for(lambda: any(f["ccproxy"].get("model") == "m-local" for f in flows(daemon)), 20, 0.1, "the flow")
    (flow,) = [f for f in flows(daemon) if f["ccproxy"].get("model") == "m-local"]
    res = daemon.cli("flows", "show", flow["id"])
    assert res.returncode == 0, res.stderr
    assert "not forwarded: ccproxy answered the client itself" in res.stdout
