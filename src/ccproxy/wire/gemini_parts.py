"""Gemini content parts to and from neutral, shared by the body translators and the stream.

Gemini's JSON spells every field camelCase or snake_case (`get`), and answers tool calls by name,
often without call ids: `CallIds` makes ids up on the way in; names are looked up on the way out.
"""

from __future__ import annotations

import json
from typing import Any

from ccproxy.wire import carry
from ccproxy.wire.neutral import Image, Part, Text, Thinking, ToolCall, ToolResult


def get(d: dict[str, Any], camel: str) -> Any:
    """Gemini's JSON accepts camelCase and snake_case for every field."""
    if camel in d:
        return d[camel]
    return d.get("".join("_" + c.lower() if c.isupper() else c for c in camel))


def lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI-style schemas spell types in capitals (`OBJECT`); JSON Schema wants lowercase."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [lower_types(v) for v in schema]
    return schema


class CallIds:
    """Gemini calls often have no id: make one up, and answer results in the same order by name."""

    def __init__(self) -> None:
        self.count = 0
        self.pending: dict[str, list[str]] = {}

    def call(self, name: str, given: str | None) -> str:
        self.count += 1
        call_id = given or f"call_{self.count}_{name}"
        self.pending.setdefault(name, []).append(call_id)
        return call_id

    def result(self, name: str, given: str | None) -> str:
        queue = self.pending.get(name) or []
        if given and given in queue:
            queue.remove(given)
            return given
        return given or (queue.pop(0) if queue else f"call_unmatched_{name}")


def result_content(response: Any) -> list[Text | Image]:
    if isinstance(response, dict) and len(response) == 1:
        ((key, value),) = response.items()
        if key in ("output", "result", "content", "error") and isinstance(value, str):
            return [Text(value)]
    return [Text(json.dumps(response, ensure_ascii=False))]


def part_in(
    part: dict[str, Any], ids: CallIds, warnings: list[str], carried: list[Thinking] | None = None
) -> Part | None:
    """One part; signed thinking a call's id carried (see `carry`) goes to `carried`."""
    if part.get("thought"):
        return Thinking(part.get("text", ""), get(part, "thoughtSignature"))
    if "text" in part:
        return Text(part["text"])
    if (inline := get(part, "inlineData")) is not None:
        return Image(media_type=get(inline, "mimeType") or "", data=inline.get("data", ""))
    if (file := get(part, "fileData")) is not None:
        return Image(media_type=get(file, "mimeType") or "", url=get(file, "fileUri") or "")
    if (call := get(part, "functionCall")) is not None:
        name, signature = call.get("name", ""), get(part, "thoughtSignature")
        base, packed_signature, thinking = carry.unpack(call.get("id") or "")
        if carried is not None:
            carried += thinking
        args = dict(call.get("args") or {})
        return ToolCall(ids.call(name, base or None), name, args, signature or packed_signature)
    if (result := get(part, "functionResponse")) is not None:
        name, response = result.get("name", ""), result.get("response")
        is_error = isinstance(response, dict) and set(response) == {"error"}
        given = carry.result_id(result["id"]) if result.get("id") else None
        return ToolResult(ids.result(name, given), result_content(response), is_error, name)
    warnings.append(f"part with keys {sorted(part)} cannot be translated; dropped")
    return None


def merge_thinking(parts: list[Part]) -> list[Part]:
    """Streamed thoughts come back as many parts, the signature on the last: one Thinking per run."""
    out: list[Part] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, Thinking) and isinstance(last, Thinking) and not last.signature:
            out[-1] = Thinking(last.text + part.text, part.signature)
        else:
            out.append(part)
    return out


def image_out(image: Image) -> dict[str, Any]:
    if image.data is not None:
        return {"inlineData": {"mimeType": image.media_type or "image/png", "data": image.data}}
    return {"fileData": {"mimeType": image.media_type or "image/jpeg", "fileUri": image.url or ""}}


def result_out(result: ToolResult, warnings: list[str]) -> dict[str, Any]:
    if any(isinstance(p, Image) for p in result.content):
        warnings.append("image in a tool result cannot go in a Gemini functionResponse; dropped")
    text = result.text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    response = (
        value
        if isinstance(value, dict) and not result.is_error
        else {"error" if result.is_error else "output": text}
    )
    if result.name is None:
        warnings.append(
            f"tool result {result.call_id!r} answers no known call; sent with an empty function name"
        )
    return {"functionResponse": {"id": result.call_id, "name": result.name or "", "response": response}}


def part_out(part: Part, warnings: list[str]) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"text": part.text}
    if isinstance(part, Image):
        return image_out(part)
    if isinstance(part, ToolCall):
        out: dict[str, Any] = {"functionCall": {"id": part.id, "name": part.name, "args": part.arguments}}
        if part.signature:
            out["thoughtSignature"] = part.signature
        return out
    if isinstance(part, ToolResult):
        return result_out(part, warnings)
    warnings.append(
        "thinking in the conversation history cannot be sent to Gemini (foreign signature); dropped"
    )
    return None
