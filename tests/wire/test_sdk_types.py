"""Every event and answer the translators write validates against the official SDKs' own types.

The SDK clients (`test_sdk_clients.py`) read what they need; here each translated stream event is
checked one by one against the SDK's pydantic model for its format (google-genai's forbid unknown
fields), for all twelve directions, plain and cut short, streamed and not.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic.types as atypes
import openai.types.chat as ctypes
import openai.types.responses as rtypes
import pytest
from google.genai import types as gtypes
from pydantic import TypeAdapter

from ccproxy.wire.neutral import ClientOptions
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.translate import StreamTranslator, translate_response
from tests.wire.golden import CREATED, PAIRS, load_bytes, load_json

ANTHROPIC_EVENT: TypeAdapter[Any] = TypeAdapter(atypes.RawMessageStreamEvent)
RESPONSES_EVENT: TypeAdapter[Any] = TypeAdapter(rtypes.ResponseStreamEvent)


def translated_events(upstream: str, client: str, cut: bool = False) -> list[tuple[str | None, str]]:
    raw = load_bytes(f"{upstream}_stream.sse")
    if cut:
        raw = raw[: len(raw) // 2]
    translator = StreamTranslator(upstream, client, ClientOptions(created=CREATED))
    out = b"".join(translator(raw[i : i + 97]) for i in range(0, len(raw), 97)) + translator(b"")
    return [(sse.event, sse.data) for sse in SSEReader().feed(out)]


def validate_event(client: str, event: str | None, data: str) -> None:
    if client == "anthropic":
        doc = json.loads(data)
        assert event == doc["type"]
        if doc["type"] == "error":
            atypes.ErrorResponse.model_validate(doc)  # the SDK raises it as an APIStatusError
        else:
            ANTHROPIC_EVENT.validate_python(doc)
    elif client == "openai":
        if data == "[DONE]":
            return
        doc = json.loads(data)
        if "error" in doc:
            assert set(doc["error"]) >= {"message", "type"}
        else:
            ctypes.ChatCompletionChunk.model_validate(doc)
    elif client == "openai_responses":
        doc = json.loads(data)
        assert event == doc["type"]
        RESPONSES_EVENT.validate_python(doc)
        if doc["type"] == "response.function_call_arguments.done":
            assert doc["name"], "the real API names the function; strict SDKs require it"
    else:
        doc = json.loads(data)
        if "error" in doc:
            assert set(doc["error"]) == {"code", "message", "status"}
        else:
            gtypes.GenerateContentResponse.model_validate_json(data)


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut"])
@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_every_stream_event_validates(upstream: str, client: str, cut: bool) -> None:
    events = translated_events(upstream, client, cut)
    assert events
    for event, data in events:
        validate_event(client, event, data)


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_every_answer_validates(upstream: str, client: str) -> None:
    raw = json.dumps(load_json(f"{upstream}_response.json"))
    doc, _ = translate_response(raw, upstream, client, ClientOptions(created=CREATED), [])
    if client == "anthropic":
        atypes.Message.model_validate(doc)
    elif client == "openai":
        ctypes.ChatCompletion.model_validate(doc)
    elif client == "openai_responses":
        rtypes.Response.model_validate(doc)
    else:
        gtypes.GenerateContentResponse.model_validate_json(json.dumps(doc))


def test_responses_arguments_done_names_the_function() -> None:
    done = [
        json.loads(data)
        for event, data in translated_events("anthropic", "openai_responses")
        if event == "response.function_call_arguments.done"
    ]
    assert [d["name"] for d in done] == ["get_weather", "get_weather"]
