"""A markdown fence off an answer in every format: whole bodies and streams split anywhere."""

from __future__ import annotations

import json

import pytest

from ccproxy.wire.fences import FenceStripper, fence_span, strip_body, strip_fence
from ccproxy.wire.sse import SSEReader, encode

RAW = '{"type": "feat", "subject": "x"}'
FENCED = f"```json\n{RAW}\n```"


def test_only_one_whole_fenced_block_is_unwrapped() -> None:
    assert strip_fence(FENCED) == RAW and strip_fence(f"  ```\n{RAW}\n```\n") == RAW
    assert strip_fence(RAW) == RAW and fence_span(RAW) == (0, 0)
    two = "```\na\n```\ntext\n```\nb\n```"
    assert strip_fence(two) == two
    assert strip_fence("```json\n{}") == "```json\n{}"  # never closed: left as it came


@pytest.mark.parametrize("body", [
    {"type": "message", "role": "assistant", "content": [{"type": "text", "text": FENCED}]},
    {"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": FENCED}}]},
    {"object": "response", "output": [{"type": "message", "content": [{"type": "output_text", "text": FENCED}]}]},
    {"candidates": [{"content": {"parts": [{"text": FENCED}]}}]},
    {"response": {"candidates": [{"content": {"parts": [{"text": FENCED}]}}]}},
])
def test_whole_bodies(body: dict[str, object]) -> None:
    out = strip_body(json.dumps(body).encode())
    assert FENCED not in out.decode() and json.dumps(RAW)[1:-1] in out.decode()
    assert strip_body(b"not json") == b"not json"


def words(text: str) -> list[str]:
    return [text[i:i + 3] for i in range(0, len(text), 3)]


STREAMS = {
    "anthropic": lambda w: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
    "openai": lambda w: {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": w}}]},
    "responses": lambda w: {"type": "response.output_text.delta", "delta": w},
    "gemini": lambda w: {"candidates": [{"content": {"parts": [{"text": w}]}}]},
}


@pytest.mark.parametrize("fmt", list(STREAMS))
def test_streams_split_anywhere(fmt: str) -> None:
    raw = b"".join(encode(STREAMS[fmt](w)) for w in words(FENCED)) + encode("[DONE]")
    stripper = FenceStripper()
    out = b"".join(stripper(raw[i:i + 7]) for i in range(0, len(raw), 7))
    assert out == b""  # held until the end
    out = stripper(b"")
    events = SSEReader().feed(out)
    assert len(events) == len(words(FENCED)) + 1 and events[-1].data == "[DONE]"
    text = "".join(str(_text(json.loads(e.data))) for e in events[:-1])
    assert text == RAW


def _text(doc: dict[str, object]) -> object:
    flat = json.dumps(doc)
    for key in ("text", "content", "delta"):
        found = _find(doc, key)
        if isinstance(found, str):
            return found
    raise AssertionError(flat)


def _find(doc: object, key: str) -> object:
    if isinstance(doc, dict):
        if isinstance(doc.get(key), str):
            return doc[key]
        for v in doc.values():
            if (hit := _find(v, key)) is not None:
                return hit
    if isinstance(doc, list):
        for v in doc:
            if (hit := _find(v, key)) is not None:
                return hit
    return None
