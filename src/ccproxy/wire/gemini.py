"""Gemini `generateContent` / `streamGenerateContent`: request, response and error, to and from neutral.

The model and the streaming switch live in the URL (`/v1beta/models/{model}:{method}`), so the
request reader and writer leave them to the caller. Gemini answers tool calls by function name and
often without call ids: ids are made up on the way in and names looked up on the way out.
"""

from __future__ import annotations

import json
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


# --- request -----------------------------------------------------------------------------------


class _CallIds:
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


def _result_content(response: Any) -> list[Text | Image]:
    if isinstance(response, dict) and len(response) == 1:
        ((key, value),) = response.items()
        if key in ("output", "result", "content", "error") and isinstance(value, str):
            return [Text(value)]
    return [Text(json.dumps(response, ensure_ascii=False))]


def _part_in(
    part: dict[str, Any], ids: _CallIds, warnings: list[str], carried: list[Thinking] | None = None
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
        return ToolResult(ids.result(name, given), _result_content(response), is_error, name)
    warnings.append(f"part with keys {sorted(part)} cannot be translated; dropped")
    return None


def _merge_thinking(parts: list[Part]) -> list[Part]:
    """Streamed thoughts come back as many parts, the signature on the last: one Thinking per run."""
    out: list[Part] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, Thinking) and isinstance(last, Thinking) and not last.signature:
            out[-1] = Thinking(last.text + part.text, part.signature)
        else:
            out.append(part)
    return out


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
    ids = _CallIds()
    for content in body.get("contents", []):
        carried: list[Thinking] = []
        parts = [p for raw in content.get("parts", []) if (p := _part_in(raw, ids, warnings, carried)) is not None]
        message = Message("assistant" if content.get("role") == "model" else "user", _merge_thinking(parts))
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


def _image_out(image: Image) -> dict[str, Any]:
    if image.data is not None:
        return {"inlineData": {"mimeType": image.media_type or "image/png", "data": image.data}}
    return {"fileData": {"mimeType": image.media_type or "image/jpeg", "fileUri": image.url or ""}}


def _result_out(result: ToolResult, warnings: list[str]) -> dict[str, Any]:
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


def _part_out(part: Part, warnings: list[str]) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"text": part.text}
    if isinstance(part, Image):
        return _image_out(part)
    if isinstance(part, ToolCall):
        out: dict[str, Any] = {"functionCall": {"id": part.id, "name": part.name, "args": part.arguments}}
        if part.signature:
            out["thoughtSignature"] = part.signature
        return out
    if isinstance(part, ToolResult):
        return _result_out(part, warnings)
    warnings.append(
        "thinking in the conversation history cannot be sent to Gemini (foreign signature); dropped"
    )
    return None


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
        parts = [p for part in message.parts if (p := _part_out(part, warnings)) is not None]
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
    ids = _CallIds()
    raw = (candidate.get("content") or {}).get("parts") or []
    parts = _merge_thinking([p for r in raw if (p := _part_in(r, ids, warnings)) is not None])
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
        elif (out := _part_out(part, warnings)) is not None:
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
