"""Anthropic Messages (`POST /v1/messages`): request, response and error, to and from the neutral model."""

from __future__ import annotations

from typing import Any

from ccproxy.wire import carry
from ccproxy.wire.neutral import (
    ApiError,
    ClientOptions,
    ErrorKind,
    Image,
    Message,
    OutputSchema,
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
    budget_of,
    convert_id,
    kind_of_status,
    pick_kind,
)

#: Anthropic requires max_tokens; clients of other formats often leave it out.
DEFAULT_MAX_TOKENS = 4096

STOP_IN: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause",
    "refusal": "refusal",
    "model_context_window_exceeded": "max_tokens",
}
STOP_OUT: dict[StopReason, str] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "content_filter": "refusal",
    "refusal": "refusal",
    "pause": "pause_turn",
}
ERROR_TYPE: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit": "rate_limit_error",
    "server": "api_error",
    "overloaded": "overloaded_error",
    "timeout": "timeout_error",
}
ERROR_KIND = {v: k for k, v in ERROR_TYPE.items()}
#: Request fields only Anthropic understands; dropped (with a warning) when translating.
ANTHROPIC_ONLY = ("context_management", "container", "mcp_servers")


# --- request -----------------------------------------------------------------------------------


def _image_in(source: dict[str, Any], warnings: list[str]) -> Image | None:
    kind = source.get("type")
    if kind == "base64":
        return Image(media_type=source.get("media_type", ""), data=source.get("data", ""))
    if kind == "url":
        return Image(url=source.get("url", ""))
    warnings.append(f"image source of type {kind!r} cannot be translated; dropped")
    return None


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _result_content(content: Any, warnings: list[str]) -> list[Text | Image]:
    out: list[Text | Image] = []
    for block in _blocks(content):
        if block.get("type") == "text":
            out.append(Text(block.get("text", "")))
        elif block.get("type") == "image" and (image := _image_in(block.get("source", {}), warnings)):
            out.append(image)
        else:
            warnings.append(f"tool_result block of type {block.get('type')!r} cannot be translated; dropped")
    return out


def _part_in(block: dict[str, Any], warnings: list[str]) -> Part | None:
    kind = block.get("type")
    if kind == "text":
        return Text(block.get("text", ""))
    if kind == "image":
        return _image_in(block.get("source", {}), warnings)
    if kind == "tool_use":
        call, _ = carry.call_in(block.get("id", ""), block.get("name", ""), dict(block.get("input") or {}))
        return call
    if kind == "tool_result":
        return ToolResult(
            carry.result_id(block.get("tool_use_id", "")),
            _result_content(block.get("content"), warnings),
            bool(block.get("is_error", False)),
        )
    if kind == "thinking":
        return Thinking(block.get("thinking", ""), block.get("signature"))
    if kind == "redacted_thinking":
        return Thinking("", None, block.get("data", ""))
    warnings.append(f"content block of type {kind!r} cannot be translated; dropped")
    return None


def _tool_choice_in(choice: dict[str, Any]) -> tuple[ToolChoice, bool | None]:
    mode = {"auto": "auto", "any": "any", "tool": "tool", "none": "none"}.get(
        choice.get("type", "auto"), "auto"
    )
    parallel = None if "disable_parallel_tool_use" not in choice else not choice["disable_parallel_tool_use"]
    return ToolChoice(mode, choice.get("name")), parallel  # type: ignore[arg-type]


def parse_request(body: dict[str, Any], warnings: list[str]) -> Request:
    system = body.get("system")
    req = Request(
        model=body.get("model", ""),
        system=[b.get("text", "") for b in _blocks(system) if b.get("type") == "text"] if system else [],
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        stop=list(body.get("stop_sequences") or []),
        stream=bool(body.get("stream", False)),
        user=(body.get("metadata") or {}).get("user_id"),
    )
    for message in body.get("messages", []):
        parts = [p for b in _blocks(message.get("content")) if (p := _part_in(b, warnings)) is not None]
        if message.get("role") == "system":
            warnings.append("a system message inside messages was moved into the system prompt")
            req.system += [p.text for p in parts if isinstance(p, Text)]
            continue
        req.messages.append(Message("assistant" if message.get("role") == "assistant" else "user", parts))
    for tool in body.get("tools") or []:
        if "input_schema" not in tool:
            warnings.append(f"server tool {tool.get('type', tool.get('name'))!r} has no equivalent; dropped")
            continue
        req.tools.append(Tool(tool["name"], tool.get("description"), tool["input_schema"]))
    if isinstance(body.get("tool_choice"), dict):
        req.tool_choice, req.parallel_tool_calls = _tool_choice_in(body["tool_choice"])
    thinking = body.get("thinking") or {}
    if thinking.get("type") in ("enabled", "adaptive"):
        effort = (body.get("output_config") or {}).get("effort")
        req.reasoning = Reasoning(True, thinking.get("budget_tokens"), effort)
    elif thinking.get("type") == "disabled":
        req.reasoning = Reasoning(False)
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        req.output = OutputSchema(fmt["schema"])
    elif fmt:
        warnings.append(f"output format of type {fmt.get('type')!r} has no equivalent; dropped")
    for key in ANTHROPIC_ONLY:
        if body.get(key):
            warnings.append(f"{key} has no equivalent in the destination format; dropped")
    return req


def _image_out(image: Image) -> dict[str, Any]:
    if image.data is not None:
        source = {"type": "base64", "media_type": image.media_type or "image/png", "data": image.data}
    else:
        source = {"type": "url", "url": image.url or ""}
    return {"type": "image", "source": source}


def _part_out(part: Part) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        return _image_out(part)
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResult):
        content = [_part_out(p) for p in part.content]
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
        if part.is_error:
            block["is_error"] = True
        return block
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def _messages_out(messages: list[Message], warnings: list[str]) -> list[dict[str, Any]]:
    """Same-role neighbours merge (tool results first in a user turn, as Anthropic requires)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        parts = message.parts
        unsigned = [p for p in parts if isinstance(p, Thinking) and not p.signature and p.redacted is None]
        if unsigned:
            warnings.append("thinking without a signature cannot be sent to Anthropic; dropped")
            parts = [p for p in parts if not any(p is u for u in unsigned)]
        blocks = [_part_out(p) for p in parts]
        if not blocks:
            continue
        if out and out[-1]["role"] == message.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": message.role, "content": blocks})
    for merged in out:
        merged["content"].sort(key=lambda b: b["type"] != "tool_result")
    return out


def _thinking_out(req: Request, body: dict[str, Any], warnings: list[str]) -> None:
    reasoning = req.reasoning
    if reasoning is None:
        return
    if not reasoning.enabled:
        body["thinking"] = {"type": "disabled"}
        return
    budget = budget_of(reasoning)
    if budget >= body["max_tokens"]:
        if body["max_tokens"] <= 1024:
            warnings.append(
                "reasoning dropped: Anthropic needs max_tokens above the 1024-token thinking minimum"
            )
            return
        budget = body["max_tokens"] - 1
        warnings.append(f"thinking budget lowered to {budget} to stay below max_tokens")
    body["thinking"] = {"type": "enabled", "budget_tokens": max(budget, 1024)}
    if req.temperature not in (None, 1, 1.0):
        warnings.append("temperature dropped: Anthropic allows only 1 with thinking enabled")
        body.pop("temperature", None)
    if req.top_p is not None and req.top_p < 0.95:
        warnings.append("top_p dropped: Anthropic allows only 0.95-1 with thinking enabled")
        body.pop("top_p", None)


def build_request(req: Request, warnings: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": req.model}
    if req.max_tokens is None:
        warnings.append(f"max_tokens not given; Anthropic requires it, sent {DEFAULT_MAX_TOKENS}")
    body["max_tokens"] = req.max_tokens or DEFAULT_MAX_TOKENS
    if req.system:
        body["system"] = "\n\n".join(req.system)
    body["messages"] = _messages_out(req.messages, warnings)
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p), ("top_k", req.top_k)):
        if value is not None:
            body[key] = value
    if req.stop:
        body["stop_sequences"] = req.stop
    if req.tools:
        body["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.parameters,
            }
            for t in req.tools
        ]
    choice = req.tool_choice
    if choice is not None or req.parallel_tool_calls is False:
        out: dict[str, Any] = {"type": choice.mode if choice else "auto"}
        if choice and choice.mode == "tool":
            out["name"] = choice.name
        if req.parallel_tool_calls is False and out["type"] != "none":
            out["disable_parallel_tool_use"] = True
        body["tool_choice"] = out
    if req.user:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True
    if req.output is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": req.output.schema}}
    _thinking_out(req, body, warnings)
    if body.get("thinking", {}).get("type") == "enabled" and carry.loop_lost_thinking(body["messages"]):
        warnings.append(carry.THINKING_LOST)
        del body["thinking"]
    return body


# --- response ----------------------------------------------------------------------------------


def usage_in(usage: dict[str, Any]) -> Usage:
    cached = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + cached + written,
        output_tokens=usage.get("output_tokens") or 0,
        cached_tokens=cached,
        cache_write_tokens=written,
    )


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }


def parse_response(body: dict[str, Any], warnings: list[str]) -> Response:
    parts = [p for b in body.get("content") or [] if (p := _part_in(b, warnings)) is not None]
    return Response(
        id=body.get("id", ""),
        model=body.get("model", ""),
        parts=parts,
        stop_reason=STOP_IN.get(body.get("stop_reason") or "end_turn", "end_turn"),
        stop_sequence=body.get("stop_sequence"),
        usage=usage_in(body.get("usage") or {}),
    )


def build_response(resp: Response, warnings: list[str], options: ClientOptions) -> dict[str, Any]:
    content = []
    for part in resp.parts:
        if isinstance(part, Thinking) and not part.signature and part.redacted is None:
            part = Thinking(part.text, "")
        block = _part_out(part)
        if isinstance(part, ToolCall):
            block["id"] = carry.pack(part.id, part.signature)
        content.append(block)
    return {
        "id": convert_id(resp.id, "msg_"),
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": STOP_OUT[resp.stop_reason],
        "stop_sequence": resp.stop_sequence,
        "usage": usage_out(resp.usage),
    }


# --- errors ------------------------------------------------------------------------------------


def parse_error(status: int, body: Any) -> ApiError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind = pick_kind(status, ERROR_KIND.get(error.get("type", "")))
        return ApiError(kind, str(error.get("message", "")), status)
    return ApiError(kind_of_status(status), str(body)[:500], status)


def error_body(error: ApiError) -> dict[str, Any]:
    return typed_error_body(ERROR_TYPE[error.kind], error.message)


def typed_error_body(kind: str, message: str) -> dict[str, Any]:
    """The Anthropic error shape with any `type`: ccproxy's own answers (`ccproxy_auth_error`, ...) use it
    where the client's format is unknown, since every SDK reads it."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def build_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    status = 529 if error.kind == "overloaded" else error.status
    return status, error_body(error)
