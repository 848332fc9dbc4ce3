"""OpenAI Chat stream decoder/encoder details."""

from __future__ import annotations

import json

from ccproxy.wire.neutral import (
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Fail,
    Finish,
    Start,
    Text,
    ToolCall,
    Usage,
)
from ccproxy.wire.openai_chat_stream import ChatDecoder, ChatEncoder
from ccproxy.wire.sse import SSE


def chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> SSE:
    doc = {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return SSE(None, json.dumps(doc))


def test_finish_waits_for_usage_and_done() -> None:
    decoder = ChatDecoder([])
    out = decoder.feed(chunk({"content": "hi"})) + decoder.feed(chunk({}, "stop"))
    assert not any(isinstance(e, Finish) for e in out)
    usage = SSE(
        None, json.dumps({"id": "c1", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}})
    )
    out = decoder.feed(usage) + decoder.feed(SSE(None, "[DONE]"))
    assert out == [Finish("end_turn", None, Usage(4, 2)), Done()]


def test_missing_done_after_finish_reason_still_completes() -> None:
    decoder = ChatDecoder([])
    decoder.feed(chunk({"content": "hi"}, "length"))
    assert decoder.close() == [Finish("max_tokens", None, Usage()), Done()]


def test_done_without_finish_reason_is_a_failure() -> None:
    decoder = ChatDecoder([])
    decoder.feed(chunk({"content": "hi"}))
    out = decoder.feed(SSE(None, "[DONE]"))
    assert isinstance(out[-1], Fail)


def test_error_chunk_fails() -> None:
    out = ChatDecoder([]).feed(SSE(None, '{"error": {"message": "quota", "type": "insufficient_quota"}}'))
    assert isinstance(out[0], Fail) and out[0].error.message == "quota"


def test_parallel_tool_calls_become_separate_blocks() -> None:
    decoder = ChatDecoder([])
    events = decoder.feed(
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]})
    )
    events += decoder.feed(
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]})
    )
    events += decoder.feed(
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"x":1}'}}]}, "tool_calls")
    )
    starts = [e for e in events if isinstance(e, BlockStart)]
    assert [s.part for s in starts] == [ToolCall("a", "f"), ToolCall("b", "g")]
    assert Delta(1, "arguments", '{"x":1}') in events and events[-1] == BlockStop(1)


def test_encoder_sends_usage_only_when_asked_and_empty_arguments_as_object() -> None:
    quiet = ChatEncoder(ClientOptions(include_usage=False))
    quiet.encode(Start("x", "m"))
    assert b"usage" not in quiet.encode(Finish("end_turn", None, Usage(1, 1)))
    encoder = ChatEncoder(ClientOptions())
    encoder.encode(Start("x", "m"))
    encoder.encode(BlockStart(0, ToolCall("t", "f")))
    assert b'"arguments":"{}"' in encoder.encode(BlockStop(0))
    assert encoder.encode(BlockStart(1, Text(""))) == b""
    assert b'"usage"' in encoder.encode(Finish("tool_use", None, Usage(1, 1)))


def test_usage_chunk_only_when_the_client_asked_for_it() -> None:
    """`stream_options.include_usage`: one last chunk with `choices: []` and usage; otherwise none."""
    from ccproxy.wire.sse import SSEReader
    from ccproxy.wire.translate import StreamTranslator, client_options
    from tests.wire.golden import load_bytes

    raw = load_bytes("anthropic_stream.sse")
    for asked in (True, False):
        options = client_options("openai", {"stream_options": {"include_usage": asked}})
        translator = StreamTranslator("anthropic", "openai", options)
        body = translator(raw) + translator(b"")
        chunks = [json.loads(s.data) for s in SSEReader().feed(body) if s.data != "[DONE]"]
        with_usage = [c for c in chunks if "usage" in c]
        if asked:
            assert with_usage == [chunks[-1]] and chunks[-1]["choices"] == []
            assert chunks[-1]["usage"]["completion_tokens"] == 80
        else:
            assert with_usage == [] and all(c["choices"] for c in chunks)
    assert client_options("openai", {}).include_usage is False
