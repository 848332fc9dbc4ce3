"""OpenAI Chat Completions (`POST /v1/chat/completions`): request, response and error, to and from neutral."""

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
    convert_id,
    data_url,
    dumps,
    effort_of,
    kind_of_status,
    loads_arguments,
    parse_data_url,
)

FINISH_IN: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}
FINISH_OUT: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "pause": "stop",
}
ERROR_TYPE: dict[ErrorKind, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", "permission_denied"),
    "not_found": ("invalid_request_error", "model_not_found"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit": ("rate_limit_error", "rate_limit_exceeded"),
    "server": ("server_error", None),
    "overloaded": ("server_error", "overloaded"),
    "timeout": ("server_error", "timeout"),
}
#: Parameters only OpenAI understands; dropped (with a warning) when the destination is another format.
OPENAI_ONLY = (
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "audio",
    "modalities",
    "prediction",
    "web_search_options",
)


# --- request -----------------------------------------------------------------------------------


def _content_in(content: Any, warnings: list[str]) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Part] = []
    for item in content:
        kind = item.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(Text(item.get("text", "")))
        elif kind == "refusal":
            parts.append(Text(item.get("refusal", "")))
        elif kind == "image_url":
            image = item.get("image_url")
            parts.append(parse_data_url(image.get("url", "") if isinstance(image, dict) else str(image)))
        else:
            warnings.append(f"content part of type {kind!r} cannot be translated; dropped")
    return parts


def _tool_calls_in(calls: list[dict[str, Any]], warnings: list[str]) -> tuple[list[Part], list[Thinking]]:
    """The calls, and the signed thinking their ids carried (see `carry`)."""
    out: list[Part] = []
    carried: list[Thinking] = []
    for call in calls:
        fn = call.get("function") or {}
        name = fn.get("name", "")
        arguments = loads_arguments(fn.get("arguments") or "", warnings, name)
        part, thinking = carry.call_in(call.get("id", ""), name, arguments)
        out.append(part)
        carried += thinking
    return out, carried


def _message_in(msg: dict[str, Any], req: Request, warnings: list[str]) -> None:
    role = msg.get("role")
    if role in ("system", "developer"):
        if req.messages:
            warnings.append(
                f"a {role} message after the conversation started was moved into the system prompt"
            )
        req.system.extend(p.text for p in _content_in(msg.get("content"), warnings) if isinstance(p, Text))
    elif role == "user":
        req.messages.append(Message("user", _content_in(msg.get("content"), warnings)))
    elif role == "assistant":
        parts: list[Part] = []
        if msg.get("reasoning_content"):
            parts.append(Thinking(msg["reasoning_content"]))
        parts += _content_in(msg.get("content"), warnings)
        calls, thinking = _tool_calls_in(msg.get("tool_calls") or [], warnings)
        message = Message("assistant", parts + calls)
        carry.restore_thinking(message, thinking)
        req.messages.append(message)
    elif role == "tool":
        content = [p for p in _content_in(msg.get("content"), warnings) if isinstance(p, Text | Image)]
        result = ToolResult(carry.result_id(msg.get("tool_call_id", "")), content)
        if req.messages and req.messages[-1].role == "user" and _only_results(req.messages[-1]):
            req.messages[-1].parts.append(result)
        else:
            req.messages.append(Message("user", [result]))
    else:
        warnings.append(f"message with role {role!r} cannot be translated; dropped")


def _only_results(message: Message) -> bool:
    return all(isinstance(p, ToolResult) for p in message.parts)


def _tool_choice_in(choice: Any) -> ToolChoice:
    if isinstance(choice, dict):
        return ToolChoice("tool", (choice.get("function") or {}).get("name"))
    return ToolChoice({"none": "none", "required": "any"}.get(str(choice), "auto"))  # type: ignore[arg-type]


def parse_request(body: dict[str, Any], warnings: list[str]) -> Request:
    stop = body.get("stop")
    req = Request(
        model=body.get("model", ""),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        stream=bool(body.get("stream", False)),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        user=body.get("user") or body.get("safety_identifier"),
    )
    for msg in body.get("messages", []):
        _message_in(msg, req, warnings)
    for tool in body.get("tools") or []:
        if tool.get("type", "function") != "function":
            warnings.append(f"tool of type {tool.get('type')!r} has no equivalent; dropped")
            continue
        fn = tool.get("function", {})
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        req.tools.append(Tool(fn.get("name", ""), fn.get("description"), params))
    if "tool_choice" in body:
        req.tool_choice = _tool_choice_in(body["tool_choice"])
    if body.get("reasoning_effort"):
        effort = body["reasoning_effort"]
        req.reasoning = Reasoning(False) if effort == "none" else Reasoning(True, effort=effort)
    req.output = output_in(body.get("response_format"), warnings)
    for key in OPENAI_ONLY:
        value = body.get(key)
        if key == "response_format" and req.output is not None:
            continue
        if value not in (None, False) and not (key == "n" and value == 1):
            warnings.append(f"{key} has no equivalent in the destination format; dropped")
    return req


def output_in(fmt: Any, warnings: list[str]) -> OutputSchema | None:
    """`response_format` (Chat) or `text.format` (Responses) asking for a JSON Schema, in neutral terms."""
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    nested = fmt.get("json_schema")
    spec: dict[str, Any] = nested if isinstance(nested, dict) else fmt
    if not isinstance(spec.get("schema"), dict):
        warnings.append("json_schema without a schema cannot be translated; dropped")
        return None
    return OutputSchema(spec["schema"], str(spec.get("name") or "output"), spec.get("strict"))


def output_spec(output: OutputSchema) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": output.name, "schema": output.schema}
    if output.strict is not None:
        spec["strict"] = output.strict
    return spec


def _user_out(message: Message, warnings: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for result in (p for p in message.parts if isinstance(p, ToolResult)):
        if any(isinstance(p, Image) for p in result.content):
            warnings.append("image in a tool result cannot go in an OpenAI tool message; dropped")
        text = result.text
        out.append(
            {
                "role": "tool",
                "tool_call_id": result.call_id,
                "content": f"Error: {text}" if result.is_error else text,
            }
        )
    rest = [p for p in message.parts if isinstance(p, Text | Image)]
    if rest and all(isinstance(p, Text) for p in rest):
        out.append({"role": "user", "content": "\n".join(p.text for p in rest if isinstance(p, Text))})
    elif rest:
        items = [
            {"type": "text", "text": p.text}
            if isinstance(p, Text)
            else {"type": "image_url", "image_url": {"url": data_url(p)}}
            for p in rest
            if isinstance(p, Text | Image)
        ]
        out.append({"role": "user", "content": items})
    return out


def _assistant_out(message: Message, warnings: list[str]) -> dict[str, Any]:
    text = "".join(p.text for p in message.parts if isinstance(p, Text))
    calls = [p for p in message.parts if isinstance(p, ToolCall)]
    if any(isinstance(p, Thinking) for p in message.parts):
        warnings.append("thinking in the conversation history has no OpenAI Chat equivalent; dropped")
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": dumps(c.arguments)}}
            for c in calls
        ]
    return out


def build_request(req: Request, warnings: list[str]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": "\n\n".join(req.system)})
    for message in req.messages:
        if message.role == "user":
            messages += _user_out(message, warnings)
        else:
            messages.append(_assistant_out(message, warnings))
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.max_tokens is not None:
        body["max_completion_tokens"] = req.max_tokens
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p)):
        if value is not None:
            body[key] = value
    if req.top_k is not None:
        warnings.append("top_k has no OpenAI equivalent; dropped")
    if req.stop:
        body["stop"] = req.stop[:4]
        if len(req.stop) > 4:
            warnings.append("OpenAI takes at most 4 stop sequences; the rest were dropped")
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.parameters},
            }
            for t in req.tools
        ]
    if req.tool_choice is not None:
        choice = req.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}}
            if choice.mode == "tool"
            else {"auto": "auto", "none": "none", "any": "required"}[choice.mode]
        )
    if req.parallel_tool_calls is not None and req.tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.reasoning is not None and req.reasoning.enabled:
        # Only where asked for: "none" for a disabled request is refused by every non-reasoning model.
        body["reasoning_effort"] = effort_of(req.reasoning)
    if req.output is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": output_spec(req.output)}
    if req.user:
        body["user"] = req.user
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# --- response ----------------------------------------------------------------------------------


def usage_in(usage: dict[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cached_tokens=prompt.get("cached_tokens") or 0,
        cache_write_tokens=prompt.get("cache_write_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


def usage_out(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens, "audio_tokens": 0},
    }


def parse_response(body: dict[str, Any], warnings: list[str]) -> Response:
    choices = body.get("choices") or [{}]
    if len(choices) > 1:
        warnings.append(f"{len(choices)} choices returned; only the first was translated")
    choice = choices[0]
    message = choice.get("message") or {}
    parts: list[Part] = []
    if message.get("reasoning_content"):
        parts.append(Thinking(message["reasoning_content"]))
    parts += _content_in(message.get("content"), warnings)
    if message.get("refusal"):
        parts.append(Text(message["refusal"]))
    parts += _tool_calls_in(message.get("tool_calls") or [], warnings)[0]
    reason = FINISH_IN.get(choice.get("finish_reason") or "stop", "end_turn")
    if message.get("refusal") and reason == "end_turn":
        reason = "refusal"
    return Response(
        body.get("id", ""), body.get("model", ""), parts, reason, None, usage_in(body.get("usage") or {})
    )


def build_response(resp: Response, warnings: list[str], options: ClientOptions) -> dict[str, Any]:
    text = "".join(p.text for p in resp.parts if isinstance(p, Text))
    calls = carry.calls_out(resp.parts, with_thinking=True)
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if thinking := "".join(p.text for p in resp.parts if isinstance(p, Thinking)):
        message["reasoning_content"] = thinking  # the field OpenAI-compatible reasoning servers use
    if resp.stop_reason == "refusal":
        message.update(content=None, refusal=text)
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": c.name, "arguments": dumps(c.arguments)}}
            for c, cid in calls
        ]
    return {
        "id": convert_id(resp.id, "chatcmpl-"),
        "object": "chat.completion",
        "created": options.timestamp(),
        "model": resp.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": FINISH_OUT[resp.stop_reason]}
        ],
        "usage": usage_out(resp.usage),
    }


# --- errors ------------------------------------------------------------------------------------


def parse_error(status: int, body: Any) -> ApiError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ApiError(kind_of_status(status), str(error.get("message", "")), status)
    return ApiError(kind_of_status(status), str(body)[:500], status)


def error_body(error: ApiError) -> dict[str, Any]:
    kind, code = ERROR_TYPE[error.kind]
    return {"error": {"message": error.message, "type": kind, "param": None, "code": code}}


def build_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    status = 503 if error.status == 529 else error.status
    return status, error_body(error)
