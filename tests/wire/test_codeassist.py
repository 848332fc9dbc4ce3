"""The Code Assist envelope: read, unwrapped for every view, and a translation source to every format.

The inner parts are checked against google-genai's own types, so an envelope ccproxy writes back is
one gemini-cli's Gemini reader accepts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types as gtypes

from ccproxy.wire import codeassist
from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.neutral import ClientOptions
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.translate import (
    CODECS,
    StreamTranslator,
    translate_error,
    translate_request,
    translate_response,
)
from tests.wire.golden import FORMATS, load_bytes, load_json

DESTINATIONS = [f for f in FORMATS if f != "gemini"] + ["gemini"]


def test_paths_are_classified() -> None:
    call = codeassist.call_of("/v1internal:streamGenerateContent?alt=sse")
    assert call is not None and call.streaming and call.generates
    assert codeassist.call_of("/v1internal:countTokens") == codeassist.Call("v1internal", "countTokens")
    assert codeassist.call_of("/v1beta/models/gemini-2.5-pro:generateContent") is None
    endpoint = main_endpoint("/v1internal:streamGenerateContent?alt=sse")
    assert endpoint is not None and (endpoint.format, endpoint.model, endpoint.streaming_path) == (
        "code_assist", None, True)
    assert main_endpoint("/v1internal:loadCodeAssist") is None


def test_request_unwraps_to_a_gemini_request_google_genai_accepts() -> None:
    doc = load_json("code_assist_request.json")
    assert codeassist.is_request(doc) and codeassist.request_model(doc) == "gemini-2.5-pro"
    inner = codeassist.unwrap_request(doc)
    contents = [gtypes.Content.model_validate(c) for c in inner["contents"]]
    assert contents[-1].parts and contents[-1].parts[0].function_response is not None
    gtypes.GenerateContentConfig.model_validate(inner["generationConfig"])
    assert codeassist.wrap_request(inner, "gemini-2.5-pro", "fake-project-0001", doc["user_prompt_id"]) == doc
    count = {"request": {"model": "models/gemini-2.5-flash", "contents": inner["contents"]}}
    assert codeassist.is_request(count) and codeassist.request_model(count) == "gemini-2.5-flash"
    plain = load_json("gemini_request.json")
    assert not codeassist.is_request(plain) and codeassist.unwrap(plain) is plain


def test_response_unwraps_and_wraps() -> None:
    doc = load_json("code_assist_response.json")
    inner = codeassist.unwrap_response(doc)
    parsed = gtypes.GenerateContentResponse.model_validate(inner)
    assert parsed.text == "It is 18C and cloudy in Paris."
    assert codeassist.wrap_response(inner, doc["traceId"]) == doc
    assert not codeassist.is_response({"type": "response.created", "response": {"usageMetadata": {}}})


@pytest.mark.parametrize("dst", DESTINATIONS)
def test_request_translates_to_every_format(dst: str) -> None:
    raw = load_bytes("code_assist_request.json")
    out = translate_request(raw, "code_assist", dst, path_stream=True, path_sse=True)
    assert out.request.model == "gemini-2.5-pro" and out.request.stream
    via_gemini = translate_request(json.dumps(codeassist.unwrap_request(json.loads(raw))), "gemini", dst,
                                   path_model="gemini-2.5-pro", path_stream=True)
    assert out.body == via_gemini.body  # the envelope adds nothing the destination would see
    assert "fake-project-0001" not in json.dumps(out.body)


def test_code_assist_is_no_destination() -> None:
    with pytest.raises(ValueError, match="not a destination"):
        translate_request(load_bytes("gemini_request.json"), "gemini", "code_assist", path_model="m")


def _upstream_response(fmt: str) -> bytes:
    return load_bytes(f"{fmt}_response.json")


@pytest.mark.parametrize("src", DESTINATIONS)
def test_answers_go_back_wrapped(src: str) -> None:
    doc, usage = translate_response(_upstream_response(src), src, "code_assist", ClientOptions(created=1), [])
    assert set(doc) == {"response"}
    parsed = gtypes.GenerateContentResponse.model_validate(doc["response"])
    assert parsed.candidates and parsed.candidates[0].finish_reason is not None
    assert usage.input_tokens > 0


@pytest.mark.parametrize("src", DESTINATIONS)
def test_streams_go_back_wrapped_event_by_event(src: str) -> None:
    translator = StreamTranslator(src, "code_assist", ClientOptions(created=1))
    out = translator(load_bytes(f"{src}_stream.sse")) + translator(b"")
    events = SSEReader().feed(out)
    assert events
    texts = []
    for event in events:
        doc: Any = event.json()
        assert set(doc) == {"response"}, doc
        chunk = gtypes.GenerateContentResponse.model_validate(doc["response"])
        texts += [p.text for c in chunk.candidates or [] for p in (c.content.parts if c.content else None) or []
                  if p.text and not p.thought]
    assert texts and translator.usage is not None


def test_a_code_assist_stream_decodes() -> None:
    translator = StreamTranslator("code_assist", "anthropic", ClientOptions(created=1))
    out = translator(load_bytes("code_assist_stream.sse")) + translator(b"")
    kinds = [e.event for e in SSEReader().feed(out)]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert b"It is 18C " in out and translator.usage is not None and translator.usage.input_tokens == 312


def test_errors_stay_bare_google_errors() -> None:
    status, doc = translate_error(529, b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}',
                                  "anthropic", "code_assist")
    assert status == 503 and doc["error"]["status"] == "UNAVAILABLE"
    assert CODECS["code_assist"].parse_error is CODECS["gemini"].parse_error
