"""The official SDKs read what the translators write, for all twelve directions, streamed and not.

Each SDK talks to an in-process transport (no sockets) that does what the router does: translate
the SDK's request into the upstream format, answer with the recorded upstream fixture, and translate
that answer back. Anthropic and OpenAI clients validate responses strictly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.translate import StreamTranslator, translate_request, translate_response
from tests.wire.golden import PAIRS, load_bytes, load_json

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
EXPECTED_CALLS = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]


class Translating:
    """A transport handler: client format in, upstream fixture answer out, translated both ways."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        endpoint = main_endpoint(request.url.path)
        assert endpoint is not None, request.url.path
        client = endpoint.format
        out = translate_request(
            request.content,
            client,
            self.upstream,
            path_model=endpoint.model,
            path_stream=endpoint.streaming_path,
            path_sse="alt=sse" in str(request.url.query),
        )
        self.seen.append(out.body)
        if out.request.stream:
            translator = StreamTranslator(self.upstream, client, out.options)
            raw = load_bytes(f"{self.upstream}_stream.sse")
            body = b"".join(translator(raw[i : i + 64]) for i in range(0, len(raw), 64)) + translator(b"")
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)
        doc, _ = translate_response(
            json.dumps(load_json(f"{self.upstream}_response.json")), self.upstream, client, out.options, []
        )
        return httpx2.Response(200, json=doc)


def http(upstream: str) -> tuple[httpx2.Client, Translating]:
    handler = Translating(upstream)
    return httpx2.Client(transport=httpx2.MockTransport(handler)), handler


def run_anthropic(upstream: str, stream: bool) -> dict[str, Any]:
    client_http, handler = http(upstream)
    client = anthropic.Anthropic(
        api_key="k", base_url="http://fake", http_client=client_http, _strict_response_validation=True
    )
    tool: Any = {
        "name": WEATHER_TOOL["name"],
        "description": WEATHER_TOOL["description"],
        "input_schema": WEATHER_TOOL["schema"],
    }
    args: dict[str, Any] = {
        "model": "m",
        "max_tokens": 100,
        "tools": [tool],
        "messages": [{"role": "user", "content": "weather?"}],
    }
    if stream:
        with client.messages.stream(**args) as s:
            text = "".join(s.text_stream)
            message = s.get_final_message()
        assert text == "Checking Paris and Rome."
    else:
        message = client.messages.create(**args)
    return {
        "text": "".join(b.text for b in message.content if b.type == "text"),
        "calls": [(b.name, b.input) for b in message.content if b.type == "tool_use"],
        "stop": message.stop_reason,
        "input": message.usage.input_tokens
        + (message.usage.cache_read_input_tokens or 0)
        + (message.usage.cache_creation_input_tokens or 0),
        "output": message.usage.output_tokens,
        "sent": handler.seen[-1],
    }


def run_openai(upstream: str, stream: bool) -> dict[str, Any]:
    client_http, handler = http(upstream)
    client = openai.OpenAI(
        api_key="k", base_url="http://fake/v1", http_client=client_http, _strict_response_validation=True
    )
    tool: Any = {
        "type": "function",
        "function": {"name": WEATHER_TOOL["name"], "parameters": WEATHER_TOOL["schema"]},
    }
    args: dict[str, Any] = {
        "model": "m",
        "tools": [tool],
        "messages": [{"role": "user", "content": "weather?"}],
    }
    if stream:
        with client.chat.completions.stream(**args, stream_options={"include_usage": True}) as s:
            for _ in s:
                pass
            completion = s.get_final_completion()
    else:
        completion = client.chat.completions.create(**args)
    message = completion.choices[0].message
    assert completion.usage is not None
    return {
        "text": message.content,
        "calls": [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []],
        "stop": completion.choices[0].finish_reason,
        "input": completion.usage.prompt_tokens,
        "output": completion.usage.completion_tokens,
        "sent": handler.seen[-1],
    }


def run_responses(upstream: str, stream: bool) -> dict[str, Any]:
    client_http, handler = http(upstream)
    client = openai.OpenAI(
        api_key="k", base_url="http://fake/v1", http_client=client_http, _strict_response_validation=True
    )
    tool: Any = {
        "type": "function",
        "name": WEATHER_TOOL["name"],
        "parameters": WEATHER_TOOL["schema"],
        "strict": False,
    }
    args: dict[str, Any] = {"model": "m", "tools": [tool], "input": "weather?"}
    if stream:
        with client.responses.stream(**args) as s:
            deltas = "".join(e.delta for e in s if e.type == "response.output_text.delta")
            response = s.get_final_response()
        assert deltas == "Checking Paris and Rome."
    else:
        response = client.responses.create(**args)
    assert response.usage is not None
    return {
        "text": response.output_text,
        "calls": [(i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"],
        "stop": response.status,
        "input": response.usage.input_tokens,
        "output": response.usage.output_tokens,
        "sent": handler.seen[-1],
    }


def run_gemini(upstream: str, stream: bool) -> dict[str, Any]:
    handler = Translating(upstream)
    transport = httpx2.MockTransport(handler)
    options = gtypes.HttpOptions(base_url="http://fake", httpx_client=httpx2.Client(transport=transport))
    client = genai.Client(api_key="k", http_options=options)
    decl = gtypes.FunctionDeclaration(
        name=WEATHER_TOOL["name"], parameters_json_schema=WEATHER_TOOL["schema"]
    )
    config = gtypes.GenerateContentConfig(
        tools=[gtypes.Tool(function_declarations=[decl])],
        automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
    )
    if stream:
        chunks = list(client.models.generate_content_stream(model="gm", contents="weather?", config=config))
        text = "".join(
            c.text or ""
            for c in chunks
            if c.candidates
            and c.candidates[0].content
            and c.candidates[0].content.parts
            and any(p.text and not p.thought for p in c.candidates[0].content.parts)
        )
        calls = [(f.name, f.args) for c in chunks for f in c.function_calls or []]
        last = chunks[-1]
    else:
        last = client.models.generate_content(model="gm", contents="weather?", config=config)
        text = "".join(p.text or "" for p in last.candidates[0].content.parts if not p.thought)  # type: ignore[index,union-attr]
        calls = [(f.name, f.args) for f in last.function_calls or []]
    usage = last.usage_metadata
    assert usage is not None and last.candidates
    return {
        "text": text,
        "calls": calls,
        "stop": last.candidates[0].finish_reason,
        "input": usage.prompt_token_count,
        "output": (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0),
        "sent": handler.seen[-1],
    }


RUNNERS: dict[str, Callable[[str, bool], dict[str, Any]]] = {
    "anthropic": run_anthropic,
    "openai": run_openai,
    "openai_responses": run_responses,
    "gemini": run_gemini,
}
TOOL_STOP = {
    "anthropic": "tool_use",
    "openai": "tool_calls",
    "openai_responses": "completed",
    "gemini": gtypes.FinishReason.STOP,
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_sdk_reads_translated_answer(upstream: str, client: str, stream: bool) -> None:
    got = RUNNERS[client](upstream, stream)
    assert got["text"] == "Checking Paris and Rome."
    assert got["calls"] == EXPECTED_CALLS
    assert got["stop"] == TOOL_STOP[client]
    assert (got["input"], got["output"]) == (200, 80)


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_sdk_request_reaches_upstream_with_its_tool(upstream: str, client: str) -> None:
    sent = RUNNERS[client](upstream, True)["sent"]
    text = json.dumps(sent)
    assert "get_weather" in text and "weather?" in text
    if upstream == "gemini":
        assert "contents" in sent and "model" not in sent
    else:
        assert sent["stream"] is True
