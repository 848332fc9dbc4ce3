"""Gemini `generateContent` / `streamGenerateContent`: request, response and error, to and from neutral.

The model and the streaming switch live in the URL (`/v1beta/models/{model}:{method}`), so the
request reader and writer leave them to the caller. Gemini answers tool calls by function name and
often without call ids: ids are made up on the way in and names looked up on the way out.
"""

from __future__ import annotations

from typing import Any

from ccproxy.wire import carry
from ccproxy.wire.gemini_parts import CallIds, get, lower_types, merge_thinking, part_in, part_out
from ccproxy.wire.neutral import (
    ApiError,
    ClientOptions,
    ErrorKind,
    Message,
    OutputSchema,
    Reasoning,
    Request,
    Response,
    StopReason,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
    budget_of,
    convert_id,
    fill_tool_names,
    kind_of_status,
    pick_kind,
)

FINISH_IN: dict[str, StopReason] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
FINISH_OUT: dict[StopReason, str] = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "pause": "STOP",
    "refusal": "STOP",
    "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
STATUS_NAME: dict[ErrorKind, str] = {
    "invalid_request": "INVALID_ARGUMENT",
    "authentication": "UNAUTHENTICATED",
    "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "request_too_large": "INVALID_ARGUMENT",
    "rate_limit": "RESOURCE_EXHAUSTED",
    "server": "INTERNAL",
    "overloaded": "UNAVAILABLE",
    "timeout": "DEADLINE_EXCEEDED",
}
KIND_OF_STATUS_NAME: dict[str, ErrorKind] = {v: k for k, v in STATUS_NAME.items() if k != "request_too_large"}
GEMINI_ONLY = ("safetySettings", "cachedContent", "labels")
GENERATION_ONLY = (
    "responseSchema",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
)


# --- request -----------------------------------------------------------------------------------


def _tool_choice_in(config: dict[str, Any]) -> ToolChoice:
    mode = str(config.get("mode", "AUTO")).upper()
    names = get(config, "allowedFunctionNames") or []
    if mode in ("ANY", "VALIDATED") and len(names) == 1:
        return ToolChoice("tool", names[0])
    return ToolChoice({"ANY": "any", "NONE": "none"}.get(mode, "auto"))  # type: ignore[arg-type]


def _generation_in(config: dict[str, Any], req: Request, warnings: list[str]) -> None:
    req.max_tokens = get(config, "maxOutputTokens")
    req.temperature = config.get("temperature")
    req.top_p = get(config, "topP")
    req.top_k = get(config, "topK")
    req.stop = list(get(config, "stopSequences") or [])
    if (get(config, "candidateCount") or 1) > 1:
        warnings.append("candidateCount above 1 has no equivalent; one answer was asked for")
    schema = get(config, "responseJsonSchema")
    if isinstance(schema, dict):
        req.output = OutputSchema(schema)
    elif get(config, "responseMimeType") not in (None, "text/plain") and get(config, "responseSchema") is None:
        warnings.append(f"generationConfig.responseMimeType {get(config, 'responseMimeType')!r} has no equivalent; dropped")
    for key in GENERATION_ONLY:
        if get(config, key) is not None:
            warnings.append(f"generationConfig.{key} has no equivalent in the destination format; dropped")
    thinking = get(config, "thinkingConfig")
    if thinking:
        budget, level = get(thinking, "thinkingBudget"), get(thinking, "thinkingLevel")
        if budget == 0:
            req.reasoning = Reasoning(False)
        else:
            effort = str(level).lower() if level else None
            req.reasoning = Reasoning(True, budget if budget and budget > 0 else None, effort)


def parse_request(body: dict[str, Any], warnings: list[str]) -> Request:
    req = Request(model="")
    system = get(body, "systemInstruction")
    if system:
        req.system = [p.get("text", "") for p in system.get("parts", []) if "text" in p]
    ids = CallIds()
    for content in body.get("contents", []):
        carried: list[Thinking] = []
        parts = [p for raw in content.get("parts", []) if (p := part_in(raw, ids, warnings, carried)) is not None]
        message = Message("assistant" if content.get("role") == "model" else "user", merge_thinking(parts))
        carry.restore_thinking(message, carried)  # gemini-cli drops thought parts but keeps call ids
        req.messages.append(message)
    for tool in body.get("tools") or []:
        declarations = get(tool, "functionDeclarations")
        if declarations is None:
            warnings.append(f"tool {sorted(tool)} has no equivalent; dropped")
            continue
        for fn in declarations:
            params = (
                get(fn, "parametersJsonSchema")
                or lower_types(fn.get("parameters"))
                or {"type": "object", "properties": {}}
            )
            req.tools.append(Tool(fn.get("name", ""), fn.get("description"), params))
    calling = get(get(body, "toolConfig") or {}, "functionCallingConfig")
    if calling:
        req.tool_choice = _tool_choice_in(calling)
    _generation_in(get(body, "generationConfig") or {}, req, warnings)
    for key in GEMINI_ONLY:
        if get(body, key):
            warnings.append(f"{key} has no equivalent in the destination format; dropped")
    return req


def _generation_out(req: Request, warnings: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    pairs = (
        ("maxOutputTokens", req.max_tokens),
        ("temperature", req.temperature),
        ("topP", req.top_p),
        ("topK", req.top_k),
    )
    config.update({k: v for k, v in pairs if v is not None})
    if req.stop:
        config["stopSequences"] = req.stop
    if req.output is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = req.output.schema
    if req.reasoning is not None:
        enabled = req.reasoning.enabled
        config["thinkingConfig"] = {
            "thinkingBudget": budget_of(req.reasoning) if enabled else 0,
            "includeThoughts": enabled,
        }
    return config


def build_request(req: Request, warnings: list[str]) -> dict[str, Any]:
    fill_tool_names(req.messages)
    contents: list[dict[str, Any]] = []
    for message in req.messages:
        parts = [p for part in message.parts if (p := part_out(part, warnings)) is not None]
        role = "model" if message.role == "assistant" else "user"
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if carry.signs_calls(req.model):
        carry.sign_current_turn(contents, warnings)
    body: dict[str, Any] = {"contents": contents}
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(req.system)}]}
    if req.tools:
        declarations = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "parametersJsonSchema": t.parameters,
            }
            for t in req.tools
        ]
        body["tools"] = [{"functionDeclarations": declarations}]
    if req.tool_choice is not None:
        choice = req.tool_choice
        calling: dict[str, Any] = {
            "mode": {"auto": "AUTO", "none": "NONE", "any": "ANY", "tool": "ANY"}[choice.mode]
        }
        if choice.mode == "tool" and choice.name:
            calling["allowedFunctionNames"] = [choice.name]
        body["toolConfig"] = {"functionCallingConfig": calling}
    if req.parallel_tool_calls is False:
        warnings.append("parallel_tool_calls=false has no Gemini equivalent; dropped")
    if config := _generation_out(req, warnings):
        body["generationConfig"] = config
    return body


# --- response ----------------------------------------------------------------------------------


def usage_in(meta: dict[str, Any]) -> Usage:
    thoughts = get(meta, "thoughtsTokenCount") or 0
    return Usage(
        input_tokens=(get(meta, "promptTokenCount") or 0) + (get(meta, "toolUsePromptTokenCount") or 0),
        output_tokens=(get(meta, "candidatesTokenCount") or 0) + thoughts,
        cached_tokens=get(meta, "cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def usage_out(usage: Usage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_tokens:
        meta["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    return meta


def parse_response(body: dict[str, Any], warnings: list[str]) -> Response:
    candidates = body.get("candidates") or []
    if len(candidates) > 1:
        warnings.append(f"{len(candidates)} candidates returned; only the first was translated")
    candidate = candidates[0] if candidates else {}
    ids = CallIds()
    raw = (candidate.get("content") or {}).get("parts") or []
    parts = merge_thinking([p for r in raw if (p := part_in(r, ids, warnings)) is not None])
    reason: StopReason = FINISH_IN.get(get(candidate, "finishReason") or "STOP", "end_turn")
    if not candidates and get(get(body, "promptFeedback") or {}, "blockReason"):
        reason = "content_filter"
    if reason == "end_turn" and any(isinstance(p, ToolCall) for p in parts):
        reason = "tool_use"
    usage = usage_in(get(body, "usageMetadata") or {})
    return Response(
        get(body, "responseId") or "", get(body, "modelVersion") or "", parts, reason, None, usage
    )


def build_response(resp: Response, warnings: list[str], options: ClientOptions) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    packed = {id(call): cid for call, cid in carry.calls_out(resp.parts, with_thinking=True)}
    for part in resp.parts:
        if isinstance(part, ToolCall):  # the first call's id also carries the signed thinking
            part = ToolCall(packed[id(part)], part.name, part.arguments, part.signature)
        if isinstance(part, Thinking):
            thought: dict[str, Any] = {"text": part.text, "thought": True}
            if part.signature:
                thought["thoughtSignature"] = part.signature
            parts.append(thought)
        elif (out := part_out(part, warnings)) is not None:
            parts.append(out)
    candidate = {
        "content": {"parts": parts, "role": "model"},
        "finishReason": FINISH_OUT[resp.stop_reason],
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage_out(resp.usage),
        "modelVersion": resp.model,
        "responseId": convert_id(resp.id, ""),
    }


# --- errors ------------------------------------------------------------------------------------


def parse_error(status: int, body: Any) -> ApiError:
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = int(status or error.get("code") or 500)
        kind = pick_kind(code, KIND_OF_STATUS_NAME.get(str(error.get("status", ""))))
        return ApiError(kind, str(error.get("message", "")), code)
    return ApiError(kind_of_status(status), str(body)[:500], status)


def error_body(error: ApiError) -> dict[str, Any]:
    status = 503 if error.status == 529 else error.status
    return {"error": {"code": status, "message": error.message, "status": STATUS_NAME[error.kind]}}


def build_error(error: ApiError) -> tuple[int, dict[str, Any]]:
    body = error_body(error)
    return body["error"]["code"], body
