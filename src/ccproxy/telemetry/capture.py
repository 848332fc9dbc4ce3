"""A recorder capture -> the facts a span is built from, in the flow writer process.

Why there: building and exporting spans on the daemon's threads competed with the proxy for its GIL
(32 % of throughput when the proxy was CPU-bound); the writer process already receives every finished
flow and parses its bodies. Pure: the capture and the record the writer built from it in, facts out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccproxy.flowmeta import FlowMeta
from ccproxy.store.record import Captured
from ccproxy.telemetry.genai import FlowFacts
from ccproxy.wire.endpoints import main_endpoint


def wire_format(formats: Mapping[str, str], meta: FlowMeta, path: str = "") -> str | None:
    """The wire format spoken upstream: the transform's target, the provider's own, else the path's (a
    host decrypted through `inspector.forward.intercept_hosts`, e.g. Azure OpenAI, has no provider entry;
    gemini-cli's Code Assist endpoints are known by their path)."""
    if meta.transform is not None and meta.transform.to_format:
        return meta.transform.to_format
    if meta.provider and meta.provider in formats:
        return formats[meta.provider]
    hit = main_endpoint(path) if path else None
    return hit.format if hit is not None else None


def _headers(raw: Any) -> list[tuple[str, str]]:
    """mitmweb's JSON headers ([[name, value], ...]) as pairs."""
    return [(str(h[0]), str(h[1])) for h in raw or () if len(h) == 2]


def wants_span(captured: Captured) -> bool:
    """One span per flow: a WebSocket flow is captured again at its end, and already had its span at
    its 101; ccproxy's own endpoints never reach the recorder."""
    state = captured.websocket_state
    return not (state is not None and state.get("timestamp_end") is not None)


def _url(request: Mapping[str, Any]) -> str:
    scheme, host, port = request.get("scheme", "http"), request.get("pretty_host") or request.get("host"), request.get("port")
    default = {"http": 80, "https": 443}.get(str(scheme))
    return f"{scheme}://{host}{'' if port in (None, default) else f':{port}'}{request.get('path', '')}"


def facts_of(captured: Captured, formats: Mapping[str, str], conversation_id: str | None = None) -> FlowFacts:
    """The span's facts; `conversation_id` as the writer derived it for the record, when it did."""
    meta, web = captured.meta, captured.web
    request: Mapping[str, Any] = web.get("request") or {}
    response: Mapping[str, Any] = web.get("response") or {}
    client = meta.client_request
    start = (client.timestamp_start if client else None) or request.get("timestamp_start") or 0.0
    end = response.get("timestamp_end") or captured.error_ts or start
    up = meta.upstream_response
    transform = meta.transform
    return FlowFacts(
        flow_id=str(web.get("id", "")),
        start=float(start),
        end=float(end),
        method=str(request.get("method", "")),
        url=client.url if client else _url(request),
        server_address=str(request.get("pretty_host") or request.get("host") or ""),
        server_port=int(request.get("port") or 0),
        source=meta.source,
        status_code=response.get("status_code"),
        first_byte=meta.timestamp_first_byte,
        provider=meta.provider,
        wire_format=wire_format(formats, meta, str(request.get("path") or "")),
        route_action=transform.mode if transform else None,
        route_model=transform.model if transform else None,
        session_id=meta.session_id,
        conversation_id=conversation_id or meta.conversation_id,
        error=meta.error or captured.error,
        request_body=client.body if client else captured.request_body,
        upstream_body=up.body if up is not None else (bytes(meta.upstream_raw) or None),
        response_body=captured.response_body,
        upstream_events=meta.upstream_events,
        client_events=meta.client_events,
        # The provider's headers as they came back (its rate-limit headers -> `ccproxy.quota.*`).
        response_headers=list(up.headers) if up is not None else _headers(response.get("headers")),
    )
