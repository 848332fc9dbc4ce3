"""Gemini stream decoder/encoder details."""

from __future__ import annotations

import json

from ccproxy.wire.gemini_stream import GeminiDecoder, GeminiEncoder
from ccproxy.wire.neutral import (
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Fail,
    Finish,
    Start,
    ToolCall,
)
from ccproxy.wire.sse import SSE, SSEReader


def chunk(parts: list[dict[str, object]], **extra: object) -> SSE:
    return SSE(
        None,
        json.dumps(
            {"candidates": [{"content": {"parts": parts, "role": "model"}, **extra}], "responseId": "r"}
        ),
    )


def test_nothing_after_finish_reason_opens_a_block_and_the_end_completes() -> None:
    decoder = GeminiDecoder([])
    out = decoder.feed(chunk([{"text": "a"}], finishReason="STOP"))
    assert isinstance(out[-1], Finish)
    assert decoder.feed(chunk([{"text": "late"}])) == []
    assert decoder.close() == [Done()]


def test_end_without_finish_reason_fails() -> None:
    decoder = GeminiDecoder([])
    decoder.feed(chunk([{"text": "a"}]))
    assert isinstance(decoder.close()[0], Fail)


def test_error_chunk_and_json_array_bodies() -> None:
    assert isinstance(GeminiDecoder([]).feed(SSE(None, '{"error": {"code": 500, "message": "x"}}'))[0], Fail)
    array = json.dumps([{"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]}])
    assert isinstance(GeminiDecoder([]).feed(SSE(None, array))[-1], Finish)


def test_encoder_holds_call_arguments_until_the_call_is_complete() -> None:
    encoder = GeminiEncoder(ClientOptions())
    encoder.encode(Start("r", "m"))
    assert encoder.encode(BlockStart(0, ToolCall("c", "f"))) == b""
    assert encoder.encode(Delta(0, "arguments", '{"a":')) == b""
    assert encoder.encode(Delta(0, "arguments", "1}")) == b""
    data = json.loads(SSEReader().feed(encoder.encode(BlockStop(0)))[0].data)
    assert data["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c", "name": "f", "args": {"a": 1}}}
    ]
