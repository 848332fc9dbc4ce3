"""OpenAI Responses (`POST /v1/responses`): request, response and error, to and from the neutral model.

ccproxy translates statelessly: `previous_response_id` and stored conversations cannot cross to another
provider, so only what is in `input` is sent (with a warning when the client relied on server state).
Reasoning items carry Anthropic thinking signatures in `encrypted_content`, so a Responses client talking
to Claude can send its reasoning back on the next turn.
"""

from __future__ import annotations

from typing import Any

from ccproxy.wire import carry, openai_chat
from ccproxy.wire.neutral import (
    ClientOptions,
    Image,
    Message,
    Part,
    Reasoning,
    Request,
    Response,
    StopReason,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Usage,
    convert_id,
    data_url,
    dumps,
    effort_of,
    loads_arguments,
    parse_data_url,
)

parse_error = openai_chat.parse_error
build_error = openai_chat.build_error
error_body = openai_chat.error_body


# --- request -----------------------------------------------------------------------------------


def _content_in(content: Any, warnings: list[str]) -> list[Text | Image]:
    if isinstance(content, str):
        return [Text(content)]
    out: list[Text | Image] = []
    for item in content or []:
        kind = item.get("type")
        if kind in ("input_text", "output_text", "text"):
            out.append(Text(item.get("text", "")))
        elif kind == "refusal":
            out.append(Text(item.get("refusal", "")))
        elif kind == "input_image" and item.get("image_url"):
            out.append(parse_data_url(item["image_url"]))
        else:
            warnings.append(f"input part of type {kind!r} cannot be translated; dropped")
    return out


def _add(req: Request, role: str, part: Part) -> None:
    """Append to the last message when the role matches (calls and results come as separate items)."""
    if req.messages and req.messages[-1].role == role:
        req.messages[-1].parts.append(part)
    else:
        req.messages.append(Message("assistant" if role == "assistant" else "user", [part]))


def _item_in(item: dict[str, Any], req: Request, warnings: list[str]) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role", "user")
        parts = _content_in(item.get("content"), warnings)
        if role in ("system", "developer"):
            req.system.extend(p.text for p in parts if isinstance(p, Text))
        else:
            for part in parts:
                _add(req, role, part)
    elif kind == "function_call":
        name = item.get("name", "")
        arguments = loads_arguments(item.get("arguments", ""), warnings, name)
        call, thinking = carry.call_in(item.get("call_id", ""), name, arguments)
        _add(req, "assistant", call)
        carry.restore_thinking(req.messages[-1], thinking)
    elif kind == "function_call_output":
        call_id = carry.result_id(item.get("call_id", ""))
        _add(req, "user", ToolResult(call_id, _content_in(item.get("output", ""), warnings)))
    elif kind == "reasoning":
        texts = [s.get("text", "") for s in item.get("summary") or []] or [
            c.get("text", "") for c in item.get("content") or []
        ]
        _add(req, "assistant", Thinking("\n\n".join(texts), item.get("encrypted_content")))
    else:
        warnings.append(f"input item of type {kind!r} cannot be translated; dropped")


def _tool_choice_in(choice: Any, warnings: list[str]) -> ToolChoice:
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return ToolChoice("tool", choice.get("name"))
        warnings.append(f"tool_choice of type {choice.get('type')!r} cannot be translated; used auto")
        return ToolChoice("auto")
    return ToolChoice({"none": "none", "required": "any"}.get(str(choice), "auto"))  # type: ignore[arg-type]


def parse_request(body: dict[str, Any], warnings: list[str]) -> Request:
    req = Request(
        model=body.get("model", ""),
        max_tokens=body.get("max_output_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stream=bool(body.get("stream", False)),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        user=body.get("user") or body.get("safety_identifier"),
    )
    if body.get("instructions"):
        req.system.append(body["instructions"])
    items = body.get("input", [])
    for item in [{"role": "user", "content": items}] if isinstance(items, str) else items:
        _item_in(item, req, warnings)
    for tool in body.get("tools") or []:
        if tool.get("type") != "function":
            warnings.append(f"tool of type {tool.get('type')!r} has no equivalent; dropped")
            continue
        params = tool.get("parameters") or {"type": "object", "properties": {}}
        req.tools.append(Tool(tool.get("name", ""), tool.get("description"), params))
    if "tool_choice" in body:
        req.tool_choice = _tool_choice_in(body["tool_choice"], warnings)
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        req.reasoning = Reasoning(False) if effort == "none" else Reasoning(True, effort=effort)
    if body.get("previous_response_id") or body.get("conversation"):
        warnings.append(
            "previous_response_id/conversation refer to OpenAI server state; only `input` was sent"
        )
    fmt = (body.get("text") or {}).get("format") or {}
    req.output = openai_chat.output_in(fmt, warnings)
    if fmt.get("type") not in (None, "text", "json_schema"):
        warnings.append(f"text.format of type {fmt.get('type')!r} has no equivalent; dropped")
    return req


def _parts_out(parts: list[Text | Image]) -> list[dict[str, Any]]:
    return [
        {"type": "input_text", "text": p.text}
        if isinstance(p, Text)
        else {"type": "input_image", "image_url": data_url(p)}
        for p in parts
    ]


def _message_out(message: Message, warnings: list[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    loose: list[Text | Image] = []
    for part in message.parts:
        if isinstance(part, Text | Image):
            loose.append(part)
            continue
        if loose:
            items.append(_loose(message.role, loose))
            loose = []
        if isinstance(part, ToolCall):
            items.append(
                {
                    "type": "function_call",
                    "call_id": part.id,
                    "name": part.name,
                    "arguments": dumps(part.arguments),
                }
            )
        elif isinstance(part, ToolResult):
            plain = all(isinstance(p, Text) for p in part.content)
            output: Any = part.text if plain else _parts_out(part.content)
            if part.is_error and plain:
                output = f"Error: {output}"
            items.append({"type": "function_call_output", "call_id": part.call_id, "output": output})
        else:
            warnings.append("thinking in the conversation history has no Responses equivalent here; dropped")
    if loose:
        items.append(_loose(message.role, loose))
    return items


def _loose(role: str, parts: list[Text | Image]) -> dict[str, Any]:
    if role == "assistant":
        text = "".join(p.text for p in parts if isinstance(p, Text))
        return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    return {"type": "message", "role": "user", "content": _parts_out(parts)}


def build_request(req: Request, warnings: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": req.model}
    if req.system:
        body["instructions"] = "\n\n".join(req.system)
    body["input"] = [item for m in req.messages for item in _message_out(m, warnings)]
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p)):
        if value is not None:
            body[key] = value
    if req.stop:
        warnings.append("stop sequences have no Responses equivalent; dropped")
    if req.top_k is not None:
        warnings.append("top_k has no Responses equivalent; dropped")
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description or "",
                "parameters": t.parameters,
                "strict": False,
            }
            for t in req.tools
        ]
    choice = req.tool_choice
    if choice is not None:
        body["tool_choice"] = (
            {"type": "function", "name": choice.name}
            if choice.mode == "tool"
            else {"auto": "auto", "none": "none", "any": "required"}[choice.mode]
        )
    if req.parallel_tool_calls is not None and req.tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.reasoning is not None and req.reasoning.enabled:
        body["reasoning"] = {"effort": effort_of(req.reasoning)}  # no "none": non-reasoning models refuse it
    if req.output is not None:
        body["text"] = {"format": {"type": "json_schema", **openai_chat.output_spec(req.output)}}
    if req.user:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
    return body


# --- response ----------------------------------------------------------------------------------


def usage_in(usage: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=usage.get("input_tokens") or 0,
        output_tokens=usage.get("output_tokens") or 0,
        cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        cache_write_tokens=(usage.get("input_tokens_details") or {}).get("cache_write_tokens") or 0,
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def stop_in(status: str, incomplete: dict[str, Any] | None) -> StopReason:
    if status == "incomplete":
        reason = (incomplete or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "max_tokens"
    return "end_turn"


def parse_response(body: dict[str, Any], warnings: list[str]) -> Response:
    parts: list[Part] = []
    for item in body.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            parts += _content_in(item.get("content"), warnings)
        elif kind == "function_call":
            name = item.get("name", "")
            arguments = loads_arguments(item.get("arguments", ""), warnings, name)
            parts.append(carry.call_in(item.get("call_id", ""), name, arguments)[0])
        elif kind == "reasoning":
            summary = "\n\n".join(s.get("text", "") for s in item.get("summary") or [])
            parts.append(Thinking(summary, item.get("encrypted_content")))
        else:
            warnings.append(f"output item of type {kind!r} cannot be translated; dropped")
    reason = stop_in(body.get("status", "completed"), body.get("incomplete_details"))
    if reason == "end_turn" and any(isinstance(p, ToolCall) for p in parts):
        reason = "tool_use"
    return Response(
        body.get("id", ""), body.get("model", ""), parts, reason, None, usage_in(body.get("usage") or {})
    )


def item_id(response_id: str, prefix: str, index: int) -> str:
    return f"{prefix}_{response_id.removeprefix('resp_')}_{index}"


def output_item(
    part: Part, response_id: str, index: int, call_id: str | None = None
) -> dict[str, Any] | None:
    """The finished output item for one part (the stream encoder sends the same shape at the end)."""
    if isinstance(part, Text):
        content = {"type": "output_text", "text": part.text, "annotations": [], "logprobs": []}
        return {
            "id": item_id(response_id, "msg", index),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [content],
        }
    if isinstance(part, ToolCall):
        return {
            "id": item_id(response_id, "fc", index),
            "type": "function_call",
            "status": "completed",
            "call_id": call_id or part.id,
            "name": part.name,
            "arguments": dumps(part.arguments),
        }
    if isinstance(part, Thinking) and part.redacted is None:
        return {
            "id": item_id(response_id, "rs", index),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": part.text}],
            "encrypted_content": part.signature,
        }
    return None


def envelope(response_id: str, model: str, created: int, status: str) -> dict[str, Any]:
    """A response object without output or usage: the shape every lifecycle event carries."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def finish_fields(reason: StopReason) -> dict[str, Any]:
    if reason == "max_tokens":
        return {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}
    if reason == "content_filter":
        return {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}
    return {"status": "completed"}


def build_response(resp: Response, warnings: list[str], options: ClientOptions) -> dict[str, Any]:
    rid = convert_id(resp.id, "resp_")
    body = envelope(rid, resp.model, options.timestamp(), "completed")
    call_ids = {id(call): cid for call, cid in carry.calls_out(resp.parts, with_thinking=True)}
    for part in resp.parts:
        item = output_item(part, rid, len(body["output"]), call_ids.get(id(part)))
        if item is None:
            warnings.append(f"{type(part).__name__} has no Responses output item; dropped")
        else:
            body["output"].append(item)
    body.update(finish_fields(resp.stop_reason), usage=usage_out(resp.usage))
    return body
