"""OpenAI Responses streaming: `response.created` ... `response.completed`, to and from neutral events.

The encoder keeps every finished output item, because `response.completed` repeats the whole response
and the SDK's stream helper checks that it matches what the deltas built.
"""

from __future__ import annotations

from typing import Any

from ccproxy.wire import carry
from ccproxy.wire import openai_responses as fmt
from ccproxy.wire.neutral import (
    ApiError,
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Event,
    Fail,
    Finish,
    Start,
    Text,
    Thinking,
    ToolCall,
    Usage,
    convert_id,
)
from ccproxy.wire.sse import SSE, encode
from ccproxy.wire.stream import Decoder, Encoder


class ResponsesDecoder(Decoder):
    def __init__(self, warnings: list[str]) -> None:
        super().__init__(warnings)
        self.args_seen: set[int] = set()
        self.summaries = 0

    def feed(self, sse: SSE) -> list[Event]:
        if self.over or not sse.data:
            return []
        data: dict[str, Any] = sse.json()
        kind = data.get("type", sse.event or "")
        if kind == "response.created":
            response = data.get("response", {})
            self.started = True
            return [Start(response.get("id", ""), response.get("model", ""))]
        if kind == "response.output_item.added":
            return self._item_added(data.get("item", {}))
        if kind == "response.content_part.added":
            return self.open_block(Text("")) if self.open_kind != "Text" else []
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return self.append(Text, data.get("delta", ""))
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self.append(Thinking, data.get("delta", ""))
        if kind == "response.reasoning_summary_part.added":
            self.summaries += 1
            return self.append(Thinking, "\n\n") if self.summaries > 1 else []
        if kind == "response.function_call_arguments.delta" and self.open is not None:
            self.args_seen.add(self.open)
            return [Delta(self.open, "arguments", data.get("delta", ""))]
        if kind == "response.output_item.done":
            return self._item_done(data.get("item", {}))
        if kind in ("response.completed", "response.incomplete"):
            return self._completed(data.get("response", {}))
        if kind == "response.failed":
            error = (data.get("response") or {}).get("error") or {}
            return self.fail(ApiError("server", str(error.get("message", "the response failed")), 500))
        if kind == "error":
            return self.fail(ApiError("server", str(data.get("message", "")), 500))
        return []

    def _item_added(self, item: dict[str, Any]) -> list[Event]:
        kind = item.get("type")
        if kind == "function_call":
            base, signature, _ = carry.unpack(item.get("call_id", ""))
            return self.open_block(ToolCall(base, item.get("name", ""), {}, signature))
        if kind == "reasoning":
            self.summaries = 0
            return self.open_block(Thinking(""))
        if kind != "message":
            self.warnings.append(f"streamed output item of type {kind!r} cannot be translated; dropped")
        return self.close_block()

    def _item_done(self, item: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        is_call = item.get("type") == "function_call"
        if self.open is not None and is_call and self.open not in self.args_seen and item.get("arguments"):
            out.append(Delta(self.open, "arguments", item["arguments"]))
        if self.open is not None and item.get("type") == "reasoning" and item.get("encrypted_content"):
            out.append(Delta(self.open, "signature", item["encrypted_content"]))
        return out + self.close_block()

    def _completed(self, response: dict[str, Any]) -> list[Event]:
        reason = fmt.stop_in(response.get("status", "completed"), response.get("incomplete_details"))
        return self.finish(reason, fmt.usage_in(response.get("usage") or {})) + self.end()


class _Item:
    """One output item being streamed: its index, id, kind and what has arrived so far."""

    def __init__(self, index: int, item_id: str, part: Text | Thinking | ToolCall) -> None:
        self.index, self.id, self.part = index, item_id, part
        self.call_id = part.id if isinstance(part, ToolCall) else ""
        self.text: list[str] = []
        self.signature: list[str] = []


class ResponsesEncoder(Encoder):
    def __init__(self, options: ClientOptions) -> None:
        super().__init__(options)
        self.seq = 0
        self.id = ""
        self.model = ""
        self.created = options.timestamp()
        self.items: dict[int, _Item] = {}
        self.output: list[dict[str, Any]] = []
        self.trail = carry.ThinkingTrail()

    def _ev(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return encode(data, kind)

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return {**fmt.envelope(self.id, self.model, self.created, status), **fields}

    def encode(self, event: Event) -> bytes:
        self.trail.see(event)
        if isinstance(event, Start):
            self.id, self.model = convert_id(event.id, "resp_"), event.model
            return self._ev("response.created", response=self._response("in_progress")) + self._ev(
                "response.in_progress", response=self._response("in_progress")
            )
        if isinstance(event, BlockStart):
            return self._open(event)
        if isinstance(event, Delta):
            return self._delta(event)
        if isinstance(event, BlockStop):
            return self._close(event.index)
        if isinstance(event, Finish):
            fields = fmt.finish_fields(event.stop_reason)
            response = self._response("completed", output=self.output, usage=fmt.usage_out(event.usage))
            response.update(fields)
            kind = "response.completed" if fields["status"] == "completed" else "response.incomplete"
            return self._ev(kind, response=response)
        if isinstance(event, Fail):
            return self._fail(event.error)
        if isinstance(event, Done):
            return b""
        return b""

    def _open(self, event: BlockStart) -> bytes:
        index = len(self.output) + len(self.items)
        part = event.part
        if isinstance(part, Thinking) and part.redacted is not None:
            return b""  # an encrypted block has no summary to show; it still travels in the call id
        prefix = {"Text": "msg", "Thinking": "rs", "ToolCall": "fc"}[type(part).__name__]
        item = self.items[event.index] = _Item(index, fmt.item_id(self.id, prefix, index), part)
        if isinstance(part, Text):
            added = {
                "id": item.id,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return self._ev("response.output_item.added", output_index=index, item=added) + self._ev(
                "response.content_part.added",
                item_id=item.id,
                output_index=index,
                content_index=0,
                part=empty,
            )
        if isinstance(part, Thinking):
            added = {"id": item.id, "type": "reasoning", "summary": []}
            empty = {"type": "summary_text", "text": ""}
            return self._ev("response.output_item.added", output_index=index, item=added) + self._ev(
                "response.reasoning_summary_part.added",
                item_id=item.id,
                output_index=index,
                summary_index=0,
                part=empty,
            )
        item.call_id = self.trail.call_id(part)
        call = {
            "id": item.id,
            "type": "function_call",
            "status": "in_progress",
            "call_id": item.call_id,
            "name": part.name,
            "arguments": "",
        }
        return self._ev("response.output_item.added", output_index=index, item=call)

    def _delta(self, event: Delta) -> bytes:
        item = self.items.get(event.index)
        if item is None:
            return b""
        if event.kind == "signature":
            item.signature.append(event.text)
            return b""
        item.text.append(event.text)
        where = {"item_id": item.id, "output_index": item.index}
        if event.kind == "text":
            return self._ev(
                "response.output_text.delta", **where, content_index=0, delta=event.text, logprobs=[]
            )
        if event.kind == "thinking":
            return self._ev(
                "response.reasoning_summary_text.delta", **where, summary_index=0, delta=event.text
            )
        return self._ev("response.function_call_arguments.delta", **where, delta=event.text)

    def _close(self, index: int) -> bytes:
        item = self.items.pop(index, None)
        if item is None:
            return b""
        text, where = "".join(item.text), {"item_id": item.id, "output_index": item.index}
        part = item.part
        full: dict[str, Any]
        if isinstance(part, Text):
            done = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            full = {
                "id": item.id,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [done],
            }
            out = self._ev("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            out += self._ev("response.content_part.done", **where, content_index=0, part=done)
        elif isinstance(part, Thinking):
            summary = {"type": "summary_text", "text": text}
            full = {
                "id": item.id,
                "type": "reasoning",
                "summary": [summary],
                "encrypted_content": "".join(item.signature) or None,
            }
            out = self._ev("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            out += self._ev("response.reasoning_summary_part.done", **where, summary_index=0, part=summary)
        else:
            text = text or "{}"
            full = {
                "id": item.id,
                "type": "function_call",
                "status": "completed",
                "call_id": item.call_id,
                "name": part.name,
                "arguments": text,
            }
            out = self._ev("response.function_call_arguments.done", **where, name=part.name, arguments=text)
        self.output.append(full)
        return out + self._ev("response.output_item.done", output_index=item.index, item=full)

    def _fail(self, error: ApiError) -> bytes:
        out = b""
        if not self.id:
            self.id = convert_id("", "resp_") + "failed"
            out += self._ev("response.created", response=self._response("in_progress"))
        code = fmt.error_body(error)["error"]["code"] or fmt.error_body(error)["error"]["type"]
        out += self._ev("error", code=code, message=error.message, param=None)
        failed = self._response("failed", output=self.output, usage=fmt.usage_out(Usage()))
        failed["error"] = {"code": "server_error", "message": error.message}
        return out + self._ev("response.failed", response=failed)
