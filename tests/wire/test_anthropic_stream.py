"""Anthropic stream decoder/encoder details."""

from __future__ import annotations

from ccproxy.wire.anthropic_stream import AnthropicDecoder, AnthropicEncoder
from ccproxy.wire.neutral import BlockStart, ClientOptions, Delta, Done, Fail, Finish, Start, Text
from ccproxy.wire.sse import SSE


def feed(decoder: AnthropicDecoder, *events: tuple[str, str]) -> list[object]:
    return [e for name, data in events for e in decoder.feed(SSE(name, data))]


def test_message_stop_without_message_delta_still_finishes() -> None:
    decoder = AnthropicDecoder([])
    out = feed(
        decoder,
        (
            "message_start",
            '{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":2}}}',
        ),
        ("ping", '{"type":"ping"}'),
        ("message_stop", '{"type":"message_stop"}'),
    )
    assert isinstance(out[0], Start) and isinstance(out[1], Finish) and isinstance(out[2], Done)


def test_unknown_blocks_are_skipped_with_a_warning_and_their_deltas_ignored() -> None:
    warnings: list[str] = []
    decoder = AnthropicDecoder(warnings)
    out = feed(
        decoder,
        (
            "content_block_start",
            '{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web"}}',
        ),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}',
        ),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        (
            "content_block_start",
            '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"pre"}}',
        ),
    )
    assert out == [BlockStart(0, Text("")), Delta(0, "text", "pre")]
    assert "server_tool_use" in warnings[0]


def test_error_event_fails_the_stream() -> None:
    decoder = AnthropicDecoder([])
    out = feed(decoder, ("error", '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'))
    assert isinstance(out[0], Fail) and out[0].error.kind == "overloaded"
    assert decoder.feed(SSE("message_stop", '{"type":"message_stop"}')) == [] and decoder.close() == []


def test_encoder_renumbers_blocks_from_zero() -> None:
    encoder = AnthropicEncoder(ClientOptions())
    encoder.encode(Start("x", "m"))
    first = encoder.encode(BlockStart(7, Text("")))
    assert b'"index":0' in first and b'"index":0' in encoder.encode(Delta(7, "text", "a"))
