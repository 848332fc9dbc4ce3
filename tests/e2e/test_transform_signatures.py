"""Tool loops that only work when opaque provider state survives a client that has no field for it.

Gemini 3 refuses a follow-up turn whose function call lost its `thoughtSignature`; Anthropic with
thinking enabled refuses a tool loop whose assistant turn lost its signed thinking block. The fake
provider enforces both like the real APIs, so each loop below goes through the real SDKs, the
daemon and back, and fails if ccproxy drops what the provider issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.daemon import RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import THINKING_TEXT, FakeProvider, standard_b64

GEMINI3 = "gemini-3-pro-preview"
AFTER_TOOL = "The weather in Paris is sunny."
SCHEMA: Any = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
CHAT_TOOL: Any = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
RESPONSES_TOOL: Any = {"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": False}
ANTHROPIC_TOOL: Any = {"name": "get_weather", "input_schema": SCHEMA}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    d = make_daemon(tmp_path_factory.mktemp("signatures"), _fake_session.host).start()
    yield d
    d.stop()


def chat(daemon: RunningDaemon, provider: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=daemon.proxy_url + "/v1", api_key=f"sk-ant-oat-ccproxy-{provider}", max_retries=0
    )


def flows_warned(daemon: RunningDaemon, needle: str) -> int:
    """How many recorded flows carry a warning containing `needle`."""
    res = daemon.cli("flows", "list", "--json")
    assert res.returncode == 0, res.stderr
    flows: list[dict[str, Any]] = json.loads(res.stdout)
    return sum(any(needle in w for w in f["ccproxy"].get("warnings") or []) for f in flows)


def issued_gemini_signatures(fake: FakeProvider) -> set[str]:
    return {sig for sig, what in fake.signed.items() if what == "get_weather"}


def sent_call_signature(fake: FakeProvider) -> str | None:
    """The thoughtSignature on the model's function call in the last request the fake got."""
    contents = fake.requests[-1].json["contents"]
    calls = [p for c in contents if c["role"] == "model" for p in c["parts"] if "functionCall" in p]
    assert calls, contents
    signature: str | None = calls[0].get("thoughtSignature")
    return standard_b64(signature) if signature and "_thought_" not in signature else signature


# --- Gemini 3 upstream: thought signatures ---------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_openai_chat_tool_loop_over_gemini3(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = chat(daemon, "gemini")
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.chat.completions.stream(model=GEMINI3, messages=messages, tools=[CHAT_TOOL]) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(model=GEMINI3, messages=messages, tools=[CHAT_TOOL])
    call = (first.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "get_weather" and first.choices[0].finish_reason == "tool_calls"
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model=GEMINI3, messages=messages, tools=[CHAT_TOOL])
    assert second.choices[0].message.content == AFTER_TOOL
    assert sent_call_signature(fake_provider) in issued_gemini_signatures(fake_provider)
    result = fake_provider.requests[-1].json["contents"][-1]["parts"][0]["functionResponse"]
    assert result["name"] == "get_weather" and "__cc" not in json.dumps(fake_provider.requests[-1].json)


def test_responses_tool_loop_over_gemini3(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = chat(daemon, "gemini")
    items: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    with client.responses.stream(model=GEMINI3, input=items, tools=[RESPONSES_TOOL]) as s:
        events = list(s)
        first = s.get_final_response()
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert done and done[0].model_dump().get("name") == "get_weather"
    call = next(i for i in first.output if i.type == "function_call")
    items += [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    second = client.responses.create(model=GEMINI3, input=items, tools=[RESPONSES_TOOL])
    assert second.output_text == AFTER_TOOL
    assert sent_call_signature(fake_provider) in issued_gemini_signatures(fake_provider)


def test_anthropic_tool_loop_over_gemini3(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(
        base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-gemini", max_retries=0
    )
    args: dict[str, Any] = {"model": GEMINI3, "max_tokens": 256, "tools": [ANTHROPIC_TOOL]}
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    with client.messages.stream(**args, messages=messages) as s:
        first = s.get_final_message()
    call = next(b for b in first.content if b.type == "tool_use")
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = client.messages.create(**args, messages=messages)
    assert second.content[0].type == "text" and second.content[0].text == AFTER_TOOL
    assert sent_call_signature(fake_provider) in issued_gemini_signatures(fake_provider)


def test_lost_gemini_signature_gets_the_placeholder_and_one_log_line(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    """A client that rewrites tool-call ids loses the signature: the documented placeholder, a warning."""
    client = chat(daemon, "gemini")
    question = {"role": "user", "content": "weather in Paris? (a client that renames tool calls)"}
    warned, log_start = flows_warned(daemon, "thought signature"), len(daemon.log_text())
    for _ in range(2):  # two turns of one conversation: warned on each flow, logged once
        messages: list[Any] = [question]
        first = client.chat.completions.create(model=GEMINI3, messages=messages, tools=[CHAT_TOOL])
        call = (first.choices[0].message.tool_calls or [])[0]
        renamed = {"id": "call_renamed", "type": "function", "function": call.function.model_dump()}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [renamed]},
            {"role": "tool", "tool_call_id": "call_renamed", "content": "sunny"},
        ]
        second = client.chat.completions.create(model=GEMINI3, messages=messages, tools=[CHAT_TOOL])
        assert second.choices[0].message.content == AFTER_TOOL
        assert sent_call_signature(fake_provider) == "skip_thought_signature_validator"
    wait_for(lambda: flows_warned(daemon, "thought signature") == warned + 2, what="a warning on both flows")
    assert daemon.log_text()[log_start:].count("has no Gemini thought signature") == 1


def test_fake_gemini3_refuses_a_call_without_its_signature(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    """The check the loops above rely on: a Gemini client that drops the signature is refused."""
    client = gemini_client(daemon)
    question = gtypes.Content(role="user", parts=[gtypes.Part(text="weather in Paris?")])
    call = gtypes.Part(function_call=gtypes.FunctionCall(name="get_weather", args={"location": "Paris"}))
    answer = gtypes.Part.from_function_response(name="get_weather", response={"output": "sunny"})
    contents = [
        question,
        gtypes.Content(role="model", parts=[call]),
        gtypes.Content(role="user", parts=[answer]),
    ]
    with pytest.raises(gerrors.ClientError) as err:
        client.models.generate_content(model=GEMINI3, contents=contents, config=gemini_config())
    assert err.value.code == 400 and "thought_signature" in str(err.value)


# --- google-genai itself: native signatures, and the API version it chose ---------------------------


def gemini_client(daemon: RunningDaemon, version: str | None = None) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=daemon.proxy_url, api_version=version, retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key="sk-ant-oat-ccproxy-gemini", http_options=options)


def gemini_config() -> gtypes.GenerateContentConfig:
    decl = gtypes.FunctionDeclaration(name="get_weather", parameters_json_schema=SCHEMA)
    return gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[decl])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
    )


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_google_genai_tool_loop_keeps_signature_and_api_version(
    daemon: RunningDaemon, fake_provider: FakeProvider, version: str
) -> None:
    client = gemini_client(daemon, version)
    question = gtypes.Content(role="user", parts=[gtypes.Part(text="weather in Paris?")])
    first = client.models.generate_content(model=GEMINI3, contents=[question], config=gemini_config())
    assert fake_provider.requests[-1].path.startswith(f"/{version}/models/{GEMINI3}:generateContent")
    assert first.candidates and first.candidates[0].content
    answer = gtypes.Part.from_function_response(name="get_weather", response={"output": "sunny"})
    contents = [question, first.candidates[0].content, gtypes.Content(role="user", parts=[answer])]
    second = client.models.generate_content(model=GEMINI3, contents=contents, config=gemini_config())
    assert second.text == AFTER_TOOL
    assert fake_provider.requests[-1].path.startswith(f"/{version}/models/")
    assert sent_call_signature(fake_provider) in issued_gemini_signatures(fake_provider)


# --- Anthropic upstream with thinking, behind OpenAI clients ----------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_openai_chat_tool_loop_with_anthropic_thinking(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    client = chat(daemon, "anthropic")
    args: dict[str, Any] = {"model": "claude-test", "tools": [CHAT_TOOL], "reasoning_effort": "low"}
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.chat.completions.stream(**args, messages=messages) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(**args, messages=messages)
    message = first.choices[0].message
    assert fake_provider.requests[-1].json["thinking"]["type"] == "enabled"
    assert (message.model_dump().get("reasoning_content") or "") == THINKING_TEXT
    call = (message.tool_calls or [])[0]
    # what agent CLIs send back: content and tool calls, not the provider-specific reasoning field
    messages += [
        {
            "role": "assistant",
            "content": message.content,
            "tool_calls": [c.model_dump() for c in message.tool_calls or []],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(**args, messages=messages)
    assert second.choices[0].message.content == AFTER_TOOL
    sent = fake_provider.requests[-1].json
    assert sent["thinking"]["type"] == "enabled"
    thinking = sent["messages"][1]["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"] == THINKING_TEXT
    assert fake_provider.signed[thinking["signature"]] == THINKING_TEXT
    assert sent["messages"][-1]["content"][0]["tool_use_id"] == sent["messages"][1]["content"][1]["id"]


def test_responses_tool_loop_with_anthropic_thinking(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    client = chat(daemon, "anthropic")
    args: dict[str, Any] = {"model": "claude-test", "tools": [RESPONSES_TOOL], "reasoning": {"effort": "low"}}
    items: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    with client.responses.stream(**args, input=items) as s:
        first = s.get_final_response()
    call = next(i for i in first.output if i.type == "function_call")
    items += [  # the function call only: no reasoning item
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    second = client.responses.create(**args, input=items)
    assert second.output_text == AFTER_TOOL
    thinking = fake_provider.requests[-1].json["messages"][1]["content"][0]
    assert thinking["type"] == "thinking" and fake_provider.signed[thinking["signature"]] == THINKING_TEXT


def test_lost_thinking_turns_thinking_off_and_is_logged_once(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    client = chat(daemon, "anthropic")
    args: dict[str, Any] = {"model": "claude-test", "tools": [CHAT_TOOL], "reasoning_effort": "low"}
    question = {"role": "user", "content": "weather in Paris? (a client that renames tool calls)"}
    warned, log_start = flows_warned(daemon, "signed thinking"), len(daemon.log_text())
    for _ in range(2):
        messages: list[Any] = [question]
        first = client.chat.completions.create(**args, messages=messages)
        call = (first.choices[0].message.tool_calls or [])[0]
        renamed = {"id": "call_renamed", "type": "function", "function": call.function.model_dump()}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [renamed]},
            {"role": "tool", "tool_call_id": "call_renamed", "content": "sunny"},
        ]
        second = client.chat.completions.create(**args, messages=messages)
        assert second.choices[0].message.content == AFTER_TOOL
        assert "thinking" not in fake_provider.requests[-1].json
    wait_for(lambda: flows_warned(daemon, "signed thinking") == warned + 2, what="a warning on both flows")
    assert daemon.log_text()[log_start:].count("came back without its signed thinking block") == 1


# --- OpenAI Chat streams: the usage chunk only when asked -----------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream_usage_chunk_only_when_asked(
    daemon: RunningDaemon, fake_provider: FakeProvider, include_usage: bool
) -> None:
    chunks = list(
        chat(daemon, "gemini").chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": include_usage},
        )
    )
    with_usage = [c for c in chunks if c.usage is not None]
    if include_usage:
        assert len(with_usage) == 1 and with_usage[0] is chunks[-1] and chunks[-1].choices == []
        assert with_usage[0].usage is not None and with_usage[0].usage.prompt_tokens > 0
    else:
        assert with_usage == [] and all(c.choices for c in chunks)
