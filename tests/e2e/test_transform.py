"""Cross-format through the daemon: official SDKs -> ccproxy -> the fake provider in another format.

Every direction runs JSON and streamed, with a tool-call round trip; the fake records what actually
left ccproxy, so each test checks both what the SDK got and what the provider saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.daemon import SECRETS, RunningDaemon, make_daemon
from tests.fakes.provider import FakeProvider

DEEPSEEK_KEY = "sk-fake-deepseek-real-secret-0004"
TEXT = "Hello from the fake provider."
AFTER_TOOL = "The weather in Paris is sunny."
ANTHROPIC_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a place.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
OPENAI_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a place.",
        "parameters": ANTHROPIC_TOOL["input_schema"],
    },
}


def transform_config(fake_host: str) -> dict[str, Any]:
    return {
        "providers": {
            "deepseek": {
                "provider": "anthropic",
                "host": fake_host,
                "scheme": "http",
                "path": "/anthropic/v1/messages",
                "auth": {"type": "env", "env": "FAKE_DEEPSEEK_KEY"},
            }
        },
        "inspector": {
            "transforms": [
                {"match_model": "^deepseek-", "action": "redirect", "dest_provider": "deepseek"},
                {
                    "match_path": "^/v1/messages$",
                    "match_model": "^gpt-",
                    "action": "transform",
                    "dest_provider": "openai",
                },
            ]
        },
    }


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    d = make_daemon(
        tmp_path_factory.mktemp("transform"),
        _fake_session.host,
        transform_config(_fake_session.host),
        {"FAKE_DEEPSEEK_KEY": DEEPSEEK_KEY},
    ).start()
    yield d
    d.stop()


def last_flow(daemon: RunningDaemon) -> dict[str, Any]:
    res = daemon.cli("flows", "list", "--json", "--jq", ".[-1:]")
    assert res.returncode == 0, res.stderr
    flows: list[dict[str, Any]] = json.loads(res.stdout)
    return flows[-1]["ccproxy"]


# --- OpenAI Chat SDK -> Anthropic (sentinel picks Anthropic: automatic transform) -----------------


def openai_client(daemon: RunningDaemon, key: str = "sk-ant-oat-ccproxy-anthropic") -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key=key, max_retries=0)


def test_openai_sdk_to_anthropic_json(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    out = openai_client(daemon).chat.completions.create(
        model="claude-test",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    )
    assert out.object == "chat.completion" and out.choices[0].message.content == TEXT
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.completion_tokens == 7
    assert out.usage.prompt_tokens_details is not None and out.usage.prompt_tokens_details.cached_tokens == 3
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages" and seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]
    assert "authorization" not in seen.headers and seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.json["system"] == "be brief" and seen.json["max_tokens"] == 4096
    record = last_flow(daemon)
    assert record["transform"]["mode"] == "transform" and record["transform"]["reason"] == "sentinel"
    assert (record["transform"]["from_format"], record["transform"]["to_format"]) == ("openai", "anthropic")
    assert any("max_tokens" in w for w in record["warnings"])


def test_openai_sdk_to_anthropic_stream(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    chunks = list(
        openai_client(daemon).chat.completions.create(
            model="claude-test",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7
    assert fake_provider.requests[-1].json["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_to_anthropic_tool_round_trip(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = openai_client(daemon)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.chat.completions.stream(model="claude-test", messages=messages, tools=[OPENAI_TOOL]) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(model="claude-test", messages=messages, tools=[OPENAI_TOOL])
    call = (first.choices[0].message.tool_calls or [])[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "location": "Paris"
    }
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model="claude-test", messages=messages, tools=[OPENAI_TOOL])
    assert second.choices[0].message.content == AFTER_TOOL
    sent = fake_provider.requests[-1].json["messages"]
    assert sent[-1]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": [{"type": "text", "text": "sunny"}],
    }


# --- Anthropic SDK -> OpenAI Chat (a transform rule on model gpt-*) --------------------------------


def anthropic_client(daemon: RunningDaemon, key: str = "client-own-key") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=daemon.proxy_url, api_key=key, max_retries=0)


def test_anthropic_sdk_to_openai_json_and_stream(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic_client(daemon)
    msg = client.messages.create(
        model="gpt-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.type == "message" and msg.content[0].type == "text" and msg.content[0].text == TEXT
    assert (
        msg.stop_reason == "end_turn"
        and msg.usage.output_tokens == 7
        and msg.usage.cache_read_input_tokens == 3
    )
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert (
        seen.headers["authorization"] == f"Bearer {SECRETS['FAKE_OPENAI_KEY']}"
        and "x-api-key" not in seen.headers
    )
    assert "anthropic-version" not in seen.headers and seen.json["max_completion_tokens"] == 64
    record = last_flow(daemon)
    assert (record["transform"]["mode"], record["transform"]["reason"], record["transform"]["rule"]) == (
        "transform",
        "rule[1]",
        1,
    )

    with client.messages.stream(
        model="gpt-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == TEXT and final.stop_reason == "end_turn" and final.usage.output_tokens == 7
    assert fake_provider.requests[-1].json["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_to_openai_tool_round_trip(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = anthropic_client(daemon)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    args: dict[str, Any] = {"model": "gpt-test", "max_tokens": 64, "tools": [ANTHROPIC_TOOL]}
    if stream:
        with client.messages.stream(**args, messages=messages) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(**args, messages=messages)
    call = first.content[-1]
    assert first.stop_reason == "tool_use" and call.type == "tool_use"
    assert call.name == "get_weather" and call.input == {"location": "Paris"}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = client.messages.create(**args, messages=messages)
    assert second.content[0].type == "text" and second.content[0].text == AFTER_TOOL
    assert fake_provider.requests[-1].json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "sunny",
    }


# --- Gemini SDK -> Anthropic ----------------------------------------------------------------------


def gemini_client(daemon: RunningDaemon) -> genai.Client:
    options = gtypes.HttpOptions(base_url=daemon.proxy_url, retry_options=gtypes.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="sk-ant-oat-ccproxy-anthropic", http_options=options)


def test_gemini_sdk_to_anthropic_json_and_stream(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = gemini_client(daemon)
    out = client.models.generate_content(model="claude-test", contents="hi")
    assert out.text == TEXT and out.candidates and out.candidates[0].finish_reason == gtypes.FinishReason.STOP
    assert out.usage_metadata is not None and out.usage_metadata.cached_content_token_count == 3
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages" and seen.json["model"] == "claude-test"
    assert seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"] and "x-goog-api-key" not in seen.headers
    chunks = list(client.models.generate_content_stream(model="claude-test", contents="hi"))
    assert "".join(c.text or "" for c in chunks) == TEXT and len(chunks) > 2
    assert fake_provider.requests[-1].json["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_sdk_to_anthropic_tool_round_trip(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = gemini_client(daemon)
    decl = gtypes.FunctionDeclaration(
        name="get_weather", parameters_json_schema=ANTHROPIC_TOOL["input_schema"]
    )
    config = gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[decl])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
    )
    question = gtypes.Content(role="user", parts=[gtypes.Part(text="weather in Paris?")])
    if stream:
        chunks = list(
            client.models.generate_content_stream(model="claude-test", contents=[question], config=config)
        )
        calls = [f for c in chunks for f in c.function_calls or []]
        model_turn = gtypes.Content(role="model", parts=[gtypes.Part(function_call=f) for f in calls])
    else:
        first = client.models.generate_content(model="claude-test", contents=[question], config=config)
        calls = first.function_calls or []
        assert first.candidates and first.candidates[0].content
        model_turn = first.candidates[0].content
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"location": "Paris"})]
    answer = gtypes.Part.from_function_response(name="get_weather", response={"output": "sunny"})
    second = client.models.generate_content(
        model="claude-test",
        contents=[question, model_turn, gtypes.Content(role="user", parts=[answer])],
        config=config,
    )
    assert second.text == AFTER_TOOL
    result = fake_provider.requests[-1].json["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["content"] == [{"type": "text", "text": "sunny"}]


# --- OpenAI Responses SDK -> Anthropic ------------------------------------------------------------


def test_responses_sdk_to_anthropic_json_and_stream(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    client = openai_client(daemon)
    out = client.responses.create(model="claude-test", input="hi", instructions="be brief")
    assert out.output_text == TEXT and out.status == "completed"
    assert (
        out.usage is not None
        and out.usage.output_tokens == 7
        and out.usage.input_tokens_details.cached_tokens == 3
    )
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages" and seen.json["system"] == "be brief"
    with client.responses.stream(model="claude-test", input="hi") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == TEXT and len(deltas) > 1 and final.output_text == TEXT


@pytest.mark.parametrize("stream", [False, True])
def test_responses_sdk_to_anthropic_tool_round_trip(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = openai_client(daemon)
    tool: Any = {
        "type": "function",
        "name": "get_weather",
        "parameters": ANTHROPIC_TOOL["input_schema"],
        "strict": False,
    }
    items: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.responses.stream(model="claude-test", input=items, tools=[tool]) as s:
            first = s.get_final_response()
    else:
        first = client.responses.create(model="claude-test", input=items, tools=[tool])
    calls = [i for i in first.output if i.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"location": "Paris"})]
    items += [
        calls[0].model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
    ]
    second = client.responses.create(model="claude-test", input=items, tools=[tool])
    assert second.output_text == AFTER_TOOL
    assert fake_provider.requests[-1].json["messages"][-1]["content"][0]["tool_use_id"] == calls[0].call_id


# --- Anthropic SDK -> Anthropic-compatible host (redirect rule) ------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_redirect_to_compatible_host(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = anthropic_client(daemon, key="sk-ant-oat-ccproxy-anthropic")
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    args: dict[str, Any] = {"model": "deepseek-chat", "max_tokens": 64, "tools": [ANTHROPIC_TOOL]}
    if stream:
        with client.messages.stream(**args, messages=messages) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(**args, messages=messages)
    seen = fake_provider.requests[-1]
    assert seen.path == "/anthropic/v1/messages" and seen.headers["x-api-key"] == DEEPSEEK_KEY
    assert seen.json["messages"] == messages and seen.json["model"] == "deepseek-chat"
    call = first.content[0]
    assert call.type == "tool_use" and call.input == {"location": "Paris"}
    messages += [
        {"role": "assistant", "content": [call.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = client.messages.create(**args, messages=messages)
    assert second.content[0].type == "text" and second.content[0].text == AFTER_TOOL
    record = last_flow(daemon)
    assert (record["transform"]["mode"], record["transform"]["reason"], record["transform"]["provider"]) == (
        "redirect",
        "rule[0]",
        "deepseek",
    )
