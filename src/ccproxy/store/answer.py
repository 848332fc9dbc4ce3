"""What the provider answered, in any of the four wire formats, JSON or streamed.

`from_events` reassembles a server-sent-event stream into the final message (text, tool calls,
stop reason, usage); `from_body` reads the same out of a JSON body. Both are pure and tolerate
cut-off streams: a stream without its terminal event comes back with `complete=False`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.wire import codeassist


@dataclass
class ToolCall:
    name: str
    arguments: str
    id: str | None = None


@dataclass
class Answer:
    """The final message a response carried, normalised across wire formats."""

    format: str = "unknown"
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] | None = None
    model: str | None = None
    id: str | None = None
    error: str | None = None
    events: int = 0
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- usage -------------------------------------------------------------------------------------

#: provider key path -> ccproxy usage key; the first format whose keys appear wins.
_USAGE_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("input_tokens",), "input_tokens"),
    (("output_tokens",), "output_tokens"),
    (("cache_read_input_tokens",), "cache_read_input_tokens"),
    (("cache_creation_input_tokens",), "cache_creation_input_tokens"),
    (("prompt_tokens",), "input_tokens"),
    (("completion_tokens",), "output_tokens"),
    (("prompt_tokens_details", "cached_tokens"), "cache_read_input_tokens"),
    (("input_tokens_details", "cached_tokens"), "cache_read_input_tokens"),
    (("completion_tokens_details", "reasoning_tokens"), "reasoning_tokens"),
    (("output_tokens_details", "reasoning_tokens"), "reasoning_tokens"),
    (("promptTokenCount",), "input_tokens"),
    (("candidatesTokenCount",), "output_tokens"),
    (("cachedContentTokenCount",), "cache_read_input_tokens"),
    (("thoughtsTokenCount",), "reasoning_tokens"),
    (("total_tokens",), "total_tokens"),
    (("totalTokenCount",), "total_tokens"),
)


def normalize_usage(raw: Any) -> dict[str, int] | None:
    """Any format's usage object -> `input_tokens`, `output_tokens`, `cache_*`, `reasoning_tokens`, `total_tokens`."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, int] = {}
    for path, key in _USAGE_KEYS:
        value: Any = raw
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and key not in out:
            out[key] = value
    return out or None


def _merge_usage(answer: Answer, raw: Any) -> None:
    usage = normalize_usage(raw)
    if usage:
        answer.usage = {**(answer.usage or {}), **usage}


def _error_text(doc: Any) -> str | None:
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or json.dumps(err))
    return str(err) if err else None


# -- per-format event handlers -------------------------------------------------------------------


class _Anthropic:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.blocks: dict[int, dict[str, Any]] = {}

    def event(self, doc: dict[str, Any]) -> None:
        a, kind = self.answer, doc.get("type")
        if kind == "message_start":
            msg = doc.get("message") or {}
            a.id, a.model = msg.get("id"), msg.get("model")
            _merge_usage(a, msg.get("usage"))
        elif kind == "content_block_start":
            self.blocks[int(doc.get("index", 0))] = dict(doc.get("content_block") or {}, _json="")
        elif kind == "content_block_delta":
            block = self.blocks.setdefault(int(doc.get("index", 0)), {"type": "text", "_json": ""})
            delta = doc.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                block["_json"] += delta.get("partial_json", "")
            elif "thinking" in delta:
                block["thinking"] = block.get("thinking", "") + str(delta["thinking"])
            elif "text" in delta:
                block["text"] = block.get("text", "") + str(delta["text"])
        elif kind == "message_delta":
            a.stop_reason = (doc.get("delta") or {}).get("stop_reason") or a.stop_reason
            _merge_usage(a, doc.get("usage"))
        elif kind == "message_stop":
            a.complete = True
        elif kind == "error":
            a.error = _error_text(doc)

    def finish(self) -> None:
        for _, block in sorted(self.blocks.items()):
            if block.get("type") in ("tool_use", "server_tool_use"):
                args = block["_json"] or json.dumps(block.get("input") or {})
                self.answer.tool_calls.append(ToolCall(block.get("name", ""), args, block.get("id")))
            self.answer.text += block.get("text", "")
            self.answer.reasoning += block.get("thinking", "")


class _OpenAIChat:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: dict[int, ToolCall] = {}

    def event(self, doc: dict[str, Any]) -> None:
        a = self.answer
        a.id, a.model = doc.get("id") or a.id, doc.get("model") or a.model
        for choice in doc.get("choices") or []:
            delta = choice.get("delta") or {}
            a.text += delta.get("content") or ""
            a.reasoning += delta.get("reasoning_content") or delta.get("reasoning") or ""
            for tc in delta.get("tool_calls") or []:
                call = self.calls.setdefault(int(tc.get("index", 0)), ToolCall("", "", None))
                fn = tc.get("function") or {}
                call.id = tc.get("id") or call.id
                call.name += fn.get("name") or ""
                call.arguments += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                a.stop_reason = choice["finish_reason"]
                a.complete = True
        _merge_usage(a, doc.get("usage"))
        if doc.get("error"):
            a.error = _error_text(doc)

    def finish(self) -> None:
        self.answer.tool_calls.extend(call for _, call in sorted(self.calls.items()))


class _Responses:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.text_parts: list[str] = []
        self.final: dict[str, Any] | None = None

    def event(self, doc: dict[str, Any]) -> None:
        a, kind = self.answer, str(doc.get("type", ""))
        if kind == "response.output_text.delta":
            self.text_parts.append(str(doc.get("delta", "")))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = doc.get("response") or {}
            a.complete = True
        elif kind == "response.created":
            resp = doc.get("response") or {}
            a.id, a.model = resp.get("id"), resp.get("model")
        elif kind == "error":
            a.error = str(doc.get("message") or _error_text(doc))

    def finish(self) -> None:
        if self.final is not None:
            _read_responses(self.answer, self.final)
        if not self.answer.text:
            self.answer.text = "".join(self.text_parts)


class _Gemini:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def event(self, doc: dict[str, Any]) -> None:
        _read_gemini(self.answer, doc)

    def finish(self) -> None:
        return None


# -- JSON bodies ---------------------------------------------------------------------------------


def _read_anthropic(a: Answer, doc: dict[str, Any]) -> None:
    a.id, a.model, a.stop_reason = doc.get("id"), doc.get("model"), doc.get("stop_reason")
    for block in doc.get("content") or []:
        if block.get("type") in ("tool_use", "server_tool_use"):
            a.tool_calls.append(ToolCall(block.get("name", ""), json.dumps(block.get("input") or {}), block.get("id")))
        a.text += block.get("text", "") if block.get("type") == "text" else ""
        a.reasoning += block.get("thinking", "") if block.get("type") == "thinking" else ""
    _merge_usage(a, doc.get("usage"))


def _read_openai(a: Answer, doc: dict[str, Any]) -> None:
    a.id, a.model = doc.get("id"), doc.get("model")
    for choice in (doc.get("choices") or [])[:1]:
        msg = choice.get("message") or {}
        a.text += msg.get("content") or ""
        a.reasoning += msg.get("reasoning_content") or ""
        for tc in msg.get("tool_calls") or []:
            fn = tc.get("function") or {}
            a.tool_calls.append(ToolCall(fn.get("name", ""), fn.get("arguments", ""), tc.get("id")))
        a.stop_reason = choice.get("finish_reason")
    _merge_usage(a, doc.get("usage"))


def _read_responses(a: Answer, doc: dict[str, Any]) -> None:
    a.id, a.model = doc.get("id") or a.id, doc.get("model") or a.model
    text = ""
    for item in doc.get("output") or []:
        if item.get("type") == "message":
            text += "".join(c.get("text", "") for c in item.get("content") or [] if c.get("type") == "output_text")
        elif item.get("type") == "function_call":
            a.tool_calls.append(ToolCall(item.get("name", ""), item.get("arguments", ""), item.get("call_id")))
        elif item.get("type") == "reasoning":
            a.reasoning += "".join(s.get("text", "") for s in item.get("summary") or [])
    a.text = text or a.text
    details = doc.get("incomplete_details") or {}
    a.stop_reason = details.get("reason") or doc.get("status")
    _merge_usage(a, doc.get("usage"))
    a.error = _error_text(doc) or a.error


def _read_gemini(a: Answer, doc: dict[str, Any]) -> None:
    a.model = doc.get("modelVersion") or a.model
    a.id = doc.get("responseId") or a.id
    for cand in (doc.get("candidates") or [])[:1]:
        for part in (cand.get("content") or {}).get("parts") or []:
            call = part.get("functionCall") or part.get("function_call")
            if call:
                a.tool_calls.append(ToolCall(call.get("name", ""), json.dumps(call.get("args") or {}), call.get("id")))
            elif part.get("thought"):
                a.reasoning += part.get("text", "")
            else:
                a.text += part.get("text", "")
        if cand.get("finishReason"):
            a.stop_reason = cand["finishReason"]
            a.complete = True
    _merge_usage(a, doc.get("usageMetadata"))
    a.error = _error_text(doc) or a.error


def detect_format(doc: Any) -> str:
    """Which wire format one response document (or stream event) belongs to."""
    if not isinstance(doc, dict):
        return "unknown"
    kind = str(doc.get("type", ""))
    if kind.startswith("response.") or doc.get("object") == "response":
        return "openai_responses"
    if kind.startswith(("message", "content_block")) or kind == "ping":
        return "anthropic"
    if "choices" in doc or str(doc.get("object", "")).startswith("chat.completion"):
        return "openai"
    if "candidates" in doc or "usageMetadata" in doc:
        return "gemini"
    return "unknown"


_HANDLERS = {"anthropic": _Anthropic, "openai": _OpenAIChat, "openai_responses": _Responses, "gemini": _Gemini}


def _docs(events: Iterable[SSEEvent]) -> Iterable[Any]:
    for ev in events:
        if ev.data.strip() in ("", "[DONE]"):
            continue
        try:
            yield json.loads(ev.data)
        except ValueError:
            continue


def from_events(events: Iterable[SSEEvent]) -> Answer:
    """Reassemble a stream into its final message; unknown or empty streams give an empty Answer."""
    answer = Answer()
    handler: Any = None
    enveloped = False
    for doc in _docs(events):
        answer.events += 1
        if codeassist.is_response(doc):  # gemini-cli's Code Assist: Gemini one level down
            doc, enveloped = doc["response"], True
        if handler is None:
            fmt = detect_format(doc)
            if fmt == "unknown":
                answer.error = answer.error or _error_text(doc)
                continue
            answer.format = fmt
            handler = _HANDLERS[fmt](answer)
        if isinstance(doc, dict):
            handler.event(doc)
    if handler is not None:
        handler.finish()
    if enveloped and answer.format == "gemini":
        answer.format = codeassist.FORMAT
    return answer


def from_body(body: bytes) -> Answer | None:
    """Read a JSON response body; None when it is not JSON. A JSON array is a Gemini stream."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, list):
        return from_events(SSEEvent(t=0.0, data=json.dumps(d)) for d in doc)
    answer = Answer(events=0, complete=True)
    enveloped = codeassist.is_response(doc)
    doc = codeassist.unwrap_response(doc)
    fmt = detect_format(doc)
    if fmt == "unknown" and isinstance(doc, dict) and "content" in doc and "role" in doc:
        fmt = "anthropic"
    answer.format = fmt
    reader = {
        "anthropic": _read_anthropic,
        "openai": _read_openai,
        "openai_responses": _read_responses,
        "gemini": _read_gemini,
    }.get(fmt)
    if reader is not None and isinstance(doc, dict):
        reader(answer, doc)
    answer.error = answer.error or _error_text(doc)
    if enveloped:
        answer.format = codeassist.FORMAT
    return answer
