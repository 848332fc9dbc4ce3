"""Take a markdown code fence off a model's answer, in any wire format, JSON or streamed (pure).

Some clients parse the answer as raw JSON and fail on "```json ... ```" around it (commitbee does).
A whole body has its answer text edited in place; a stream is held until it ends (such answers
are a few hundred bytes), then the fence's characters are taken off the first and last text
deltas it spans, and every event goes out as it came, otherwise unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ccproxy.wire.sse import SSE, SSEReader, encode

_OPEN = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\r?\n")
_CLOSE = re.compile(r"\r?\n?[ \t]*```\s*$")

Slot = tuple[dict[str, Any], str]  # (object, key) holding a piece of answer text


def fence_span(text: str) -> tuple[int, int]:
    """(characters to drop at the start, at the end): both 0 unless the text is one fenced block."""
    opened = _OPEN.match(text)
    if opened is None:
        return 0, 0
    closed = _CLOSE.search(text, opened.end())
    if closed is None or "```" in text[opened.end():closed.start()]:
        return 0, 0
    return opened.end(), len(text) - closed.start()


def strip_fence(text: str) -> str:
    head, tail = fence_span(text)
    return text[head:len(text) - tail] if head else text


def _parts(holder: Any) -> Iterator[Slot]:
    """Gemini's text parts (thoughts left alone); a Code Assist envelope one level down."""
    if isinstance(holder, dict) and isinstance(holder.get("response"), dict):
        holder = holder["response"]
    for cand in (holder.get("candidates") or [])[:1] if isinstance(holder, dict) else []:
        for part in (cand.get("content") or {}).get("parts") or []:
            if isinstance(part.get("text"), str) and not part.get("thought"):
                yield part, "text"


def delta_slots(doc: Any) -> list[Slot]:
    """Where one stream event carries a piece of the answer's text, in whichever format it is."""
    if not isinstance(doc, dict):
        return []
    kind = doc.get("type")
    if kind == "content_block_delta" and (doc.get("delta") or {}).get("type") == "text_delta":
        return [(doc["delta"], "text")]
    if kind == "response.output_text.delta":
        return [(doc, "delta")]
    if "choices" in doc:
        return [(c["delta"], "content") for c in doc["choices"][:1]
                if isinstance(c.get("delta"), dict) and isinstance(c["delta"].get("content"), str)]
    return list(_parts(doc))


def whole_slots(doc: Any) -> list[Slot]:
    """Where a whole answer (a JSON body, or a stream's closing summary event) holds its full text."""
    if not isinstance(doc, dict):
        return []
    if doc.get("type") == "response.output_text.done":
        return [(doc, "text")]
    if doc.get("type") in ("response.completed", "response.incomplete") and isinstance(doc.get("response"), dict):
        doc = doc["response"]
    if doc.get("type") == "message" and isinstance(doc.get("content"), list):
        return [(b, "text") for b in doc["content"] if b.get("type") == "text"][:1]
    if "choices" in doc:
        return [(c["message"], "content") for c in doc["choices"][:1]
                if isinstance(c.get("message"), dict) and isinstance(c["message"].get("content"), str)]
    if isinstance(doc.get("output"), list):
        return [(c, "text") for item in doc["output"] if item.get("type") == "message"
                for c in item.get("content") or [] if c.get("type") == "output_text"][:1]
    return []


def strip_body(body: bytes) -> bytes:
    """A whole JSON answer with its fence taken off; any other body unchanged."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    slots = whole_slots(doc) or list(_parts(doc))
    return json.dumps(doc, ensure_ascii=False).encode() if slots and _trim(slots) else body


def _trim(slots: list[Slot]) -> bool:
    """Drop the fence's characters from the text spread over `slots`; False when there is none."""
    text = "".join(obj[key] for obj, key in slots)
    head, tail = fence_span(text)
    if not head:
        return False
    for obj, key in slots:
        piece: str = obj[key]
        cut = min(head, len(piece))
        obj[key], head = piece[cut:], head - cut
    for obj, key in reversed(slots):
        piece = obj[key]
        cut = min(tail, len(piece))
        obj[key], tail = piece[:len(piece) - cut], tail - cut
    return True


class FenceStripper:
    """A stream filter (see `FlowMeta.stream_filters`): holds the stream, returns it unfenced at its end."""

    def __init__(self) -> None:
        self.reader = SSEReader()
        self.events: list[SSE] = []

    def __call__(self, chunk: bytes) -> bytes:
        if chunk:
            self.events += self.reader.feed(chunk)
            return b""
        self.events += self.reader.flush()
        return self.rewrite(self.events)

    @staticmethod
    def rewrite(events: list[SSE]) -> bytes:
        docs: list[Any] = []
        for ev in events:
            try:
                docs.append(json.loads(ev.data))
            except ValueError:
                docs.append(None)
        _trim([slot for doc in docs for slot in delta_slots(doc)])
        for doc in docs:
            for obj, key in whole_slots(doc):
                obj[key] = strip_fence(obj[key])
        out = bytearray()
        for ev, doc in zip(events, docs, strict=True):
            out += encode(doc if doc is not None else ev.data, ev.event)
        return bytes(out)

    def whole(self, body: bytes) -> bytes:
        return strip_body(body)
