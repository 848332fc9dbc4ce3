"""OpenAI Responses stream decoder/encoder details."""

from __future__ import annotations

import json

from ccproxy.wire.neutral import ApiError, BlockStart, ClientOptions, Delta, Fail, Start, Thinking, ToolCall
from ccproxy.wire.openai_responses_stream import ResponsesDecoder, ResponsesEncoder
from ccproxy.wire.sse import SSE, SSEReader


def ev(kind: str, **fields: object) -> SSE:
    return SSE(kind, json.dumps({"type": kind, **fields}))


def test_failed_response_fails_the_stream() -> None:
    decoder = ResponsesDecoder([])
    decoder.feed(ev("response.created", response={"id": "r", "model": "m"}))
    out = decoder.feed(ev("response.failed", response={"error": {"code": "server_error", "message": "down"}}))
    assert isinstance(out[0], Fail) and out[0].error.message == "down"


def test_arguments_only_in_item_done_are_still_passed_on() -> None:
    decoder = ResponsesDecoder([])
    decoder.feed(
        ev("response.output_item.added", item={"type": "function_call", "call_id": "c", "name": "f"})
    )
    out = decoder.feed(
        ev("response.output_item.done", item={"type": "function_call", "arguments": '{"a":1}'})
    )
    assert out[0] == Delta(0, "arguments", '{"a":1}')


def test_reasoning_summaries_and_encrypted_content() -> None:
    decoder = ResponsesDecoder([])
    out = decoder.feed(ev("response.output_item.added", item={"type": "reasoning"}))
    out += decoder.feed(ev("response.reasoning_summary_part.added"))
    out += decoder.feed(ev("response.reasoning_summary_text.delta", delta="a"))
    out += decoder.feed(ev("response.reasoning_summary_part.added"))
    out += decoder.feed(ev("response.reasoning_summary_text.delta", delta="b"))
    out += decoder.feed(
        ev("response.output_item.done", item={"type": "reasoning", "encrypted_content": "enc"})
    )
    assert out[0] == BlockStart(0, Thinking(""))
    assert [e.text for e in out if isinstance(e, Delta)] == ["a", "\n\n", "b", "enc"]


def test_fail_before_any_event_still_starts_the_response() -> None:
    data = ResponsesEncoder(ClientOptions()).encode(Fail(ApiError("server", "gone", 502)))
    kinds = [e.event for e in SSEReader().feed(data)]
    assert kinds == ["response.created", "error", "response.failed"]


def test_sequence_numbers_increase_and_items_are_numbered_in_order() -> None:
    encoder = ResponsesEncoder(ClientOptions(created=1))
    data = encoder.encode(Start("x", "m")) + encoder.encode(BlockStart(3, ToolCall("c", "f")))
    events = [json.loads(e.data) for e in SSEReader().feed(data)]
    assert [e["sequence_number"] for e in events] == [0, 1, 2]
    assert events[2]["output_index"] == 0 and events[2]["item"]["id"] == "fc_x_0"
