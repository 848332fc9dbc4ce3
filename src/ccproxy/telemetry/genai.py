"""A finished flow's facts -> a span's name, times and attributes (OpenTelemetry GenAI semantic conventions).

Pure: runs on the exporter's worker thread, never on the proxy's event loop, because reading the
answer (usage, finish reason, response model) means parsing bodies and streams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccproxy.flowmeta import SSEEvent
from ccproxy.sessions.cost import Price, price_usage
from ccproxy.sessions.quota import parse_quota
from ccproxy.store.conversation import conversation_id, inner_request, model_of, parse_json
from ccproxy.store.record import read_answer

#: ccproxy wire format -> `gen_ai.provider.name` (and the older `gen_ai.system`) well-known values.
SYSTEMS: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai_responses": "openai",
    "gemini": "gcp.gemini",
    "code_assist": "gcp.gemini",
}
#: ccproxy usage key -> GenAI attribute.
USAGE_ATTRIBUTES: dict[str, str] = {
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_input_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_creation_input_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "ccproxy.usage.reasoning_tokens",
}
#: Request keys that hold the prompt, by wire format family (content capture only).
PROMPT_KEYS: tuple[str, ...] = ("system", "messages", "contents", "systemInstruction", "instructions", "input")


@dataclass
class FlowFacts:
    """What the span is built from, snapshotted off a finished flow (bodies shared, not copied)."""

    flow_id: str
    start: float
    end: float
    method: str
    url: str
    server_address: str
    server_port: int
    source: str
    status_code: int | None = None
    first_byte: float | None = None
    provider: str | None = None
    wire_format: str | None = None
    route_action: str | None = None
    route_model: str | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    error: str | None = None
    request_body: bytes = b""
    upstream_body: bytes | None = None
    response_body: bytes | None = None
    upstream_events: list[SSEEvent] = field(default_factory=list)
    client_events: list[SSEEvent] = field(default_factory=list)
    #: The provider's response headers (its rate-limit headers become `ccproxy.quota.*`).
    response_headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SpanSpec:
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: str | None = None


def operation_of(facts: FlowFacts) -> str | None:
    if facts.wire_format is None:
        return None
    return "generate_content" if facts.wire_format in ("gemini", "code_assist") else "chat"


def span_spec(facts: FlowFacts, capture_content: bool = False, prices: Mapping[str, Price] | None = None) -> SpanSpec:
    """The span for one flow: `{operation} {model}` for an LLM call, `{method} {host}` for anything else.

    `ccproxy.cost.usd` is set when the answer's usage has a known price (`sessions.cost`, `prices`
    from ccproxy.yaml first); an unknown price leaves it out rather than reporting 0."""
    request_doc = parse_json(facts.request_body)
    answer = read_answer(facts.upstream_body, facts.upstream_events) or read_answer(
        facts.response_body, facts.client_events
    )
    attrs: dict[str, Any] = {
        "server.address": facts.server_address,
        "server.port": facts.server_port,
        "http.request.method": facts.method,
        "ccproxy.flow_id": facts.flow_id,
        "ccproxy.source": facts.source,
        "ccproxy.streamed": bool(facts.upstream_events or facts.client_events),
    }
    optional: dict[str, Any] = {
        "http.response.status_code": facts.status_code,
        "ccproxy.provider": facts.provider,
        "ccproxy.route.action": facts.route_action,
        "ccproxy.session_id": facts.session_id,
        # The recorder derives it on its own thread; the same pure function, here on ours.
        "ccproxy.conversation_id": facts.conversation_id or conversation_id(request_doc),
    }
    if facts.first_byte is not None:
        optional["ccproxy.ttfb_ms"] = round(max(0.0, facts.first_byte - facts.start) * 1000, 3)
    operation = operation_of(facts)
    model = facts.route_model or model_of(request_doc, facts.url)
    if operation is not None and facts.wire_format is not None:
        system = SYSTEMS.get(facts.wire_format, facts.wire_format)
        optional.update(
            {
                "gen_ai.operation.name": operation,
                "gen_ai.system": system,
                "gen_ai.provider.name": system,
                "gen_ai.request.model": model,
            }
        )
    if answer is not None:
        optional["gen_ai.response.model"] = answer.model
        optional["gen_ai.response.id"] = answer.id
        if answer.stop_reason:
            optional["gen_ai.response.finish_reasons"] = [answer.stop_reason]
        for key, value in (answer.usage or {}).items():
            if key in USAGE_ATTRIBUTES:
                optional[USAGE_ATTRIBUTES[key]] = value
        cost = price_usage(answer.format if answer.format != "unknown" else facts.wire_format,
                           answer.model or model, answer.usage, api_url=f"https://{facts.server_address}", prices=prices)
        optional["ccproxy.cost.usd"] = cost.usd if cost else None
    optional.update(quota_attributes(facts))
    error = facts.error or (answer.error if answer is not None else None)
    if facts.status_code is not None and facts.status_code >= 400:
        optional["error.type"] = str(facts.status_code)
        error = error or f"HTTP {facts.status_code}"
    elif error:
        optional["error.type"] = "ccproxy.flow_error"
    if capture_content:
        optional.update(content_attributes(inner_request(request_doc), answer.text if answer else None, answer))
    attrs.update({k: v for k, v in optional.items() if v is not None})
    name = f"{operation} {model}" if operation and model else operation or f"{facts.method} {facts.server_address}"
    return SpanSpec(name, int(facts.start * 1e9), int(max(facts.end, facts.start) * 1e9), attrs, error)


def quota_attributes(facts: FlowFacts) -> dict[str, Any]:
    """`ccproxy.quota.status` and, per window, `ccproxy.quota.<window>.utilization` (per cent) / `.reset` (epoch s)."""
    snap = parse_quota(facts.response_headers, facts.end)
    if snap is None:
        return {}
    out: dict[str, Any] = {"ccproxy.quota.kind": snap.kind, "ccproxy.quota.status": snap.status}
    for name, w in snap.windows.items():
        out[f"ccproxy.quota.{name}.utilization"] = w.utilization
        out[f"ccproxy.quota.{name}.reset"] = w.reset
        out[f"ccproxy.quota.{name}.status"] = w.status
    return out


def content_attributes(request_doc: Any, text: str | None, answer: Any) -> dict[str, Any]:
    """Prompt and completion, only with `telemetry.capture_content: true` (JSON strings)."""
    out: dict[str, Any] = {}
    if isinstance(request_doc, dict):
        prompt = {k: request_doc[k] for k in PROMPT_KEYS if k in request_doc}
        if prompt:
            out["gen_ai.input.messages"] = json.dumps(prompt, ensure_ascii=False)
    if text is not None:
        message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
        if answer is not None and answer.tool_calls:
            message["parts"] += [
                {"type": "tool_call", "name": c.name, "id": c.id, "arguments": c.arguments} for c in answer.tool_calls
            ]
        if answer is not None and answer.stop_reason:
            message["finish_reason"] = answer.stop_reason
        out["gen_ai.output.messages"] = json.dumps([message], ensure_ascii=False)
    return out
