"""After the recorder: hand each finished flow to the OTLP exporter as a cheap snapshot (no parsing here)."""

from __future__ import annotations

import logging
import time

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import ConfigError
from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.telemetry.export import SpanExport
from ccproxy.telemetry.genai import FlowFacts
from ccproxy.wire.endpoints import main_endpoint


def wire_format(config: CCProxyConfig, meta: FlowMeta, path: str = "") -> str | None:
    """The format the provider spoke: the route's, the provider's, else the path's (a host decrypted
    through `inspector.forward.intercept_hosts`, e.g. Azure OpenAI, has no provider entry)."""
    if meta.transform is not None and meta.transform.to_format:
        return meta.transform.to_format
    provider = config.providers.get(meta.provider) if meta.provider else None
    if provider is not None:
        return provider.provider
    hit = main_endpoint(path) if path else None
    return hit.format if hit is not None else None


def facts_of(config: CCProxyConfig, flow: http.HTTPFlow) -> FlowFacts:
    """Everything the span needs, read off the flow now; bodies are shared, lists copied."""
    meta, req, resp = get_meta(flow), flow.request, flow.response
    client = meta.client_request
    start = (client.timestamp_start if client else None) or req.timestamp_start or time.time()
    end = (resp.timestamp_end if resp else None) or (flow.error.timestamp if flow.error else None) or time.time()
    up = meta.upstream_response
    transform = meta.transform
    return FlowFacts(
        flow_id=flow.id,
        start=start,
        end=end,
        method=req.method,
        url=client.url if client else req.pretty_url,
        server_address=req.pretty_host,
        server_port=req.port,
        source=meta.source,
        status_code=resp.status_code if resp else None,
        first_byte=meta.timestamp_first_byte,
        provider=meta.provider,
        wire_format=wire_format(config, meta, req.path),
        route_action=transform.mode if transform else None,
        route_model=transform.model if transform else None,
        session_id=meta.session_id,
        conversation_id=meta.conversation_id,
        error=meta.error or (flow.error.msg if flow.error else None),
        request_body=client.body if client else (req.raw_content or b""),
        upstream_body=up.body if up is not None else (bytes(meta.upstream_raw) or None),
        response_body=resp.raw_content if resp else None,
        upstream_events=list(meta.upstream_events),
        client_events=list(meta.client_events),
        response_headers=list(up.headers) if up is not None else (list(resp.headers.items(multi=True)) if resp else []),
    )


class Telemetry:
    """Only present in the chain when `telemetry.otlp.endpoint` is set."""

    def __init__(self, config: CCProxyConfig) -> None:
        self.config = config
        self.export: SpanExport | None = None

    def running(self) -> None:
        try:
            self.export = SpanExport(self.config.telemetry, self.config.prices).start()
        except ConfigError as exc:  # the `otel` extra is not installed: say so once, keep serving
            logging.getLogger("ccproxy.telemetry").warning("%s", exc)

    def done(self) -> None:
        if self.export is not None:
            self.export.close()
            self.export = None

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        if self.export is None or get_meta(flow).internal:
            return
        self.export.submit(facts_of(self.config, flow))
