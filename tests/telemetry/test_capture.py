"""A recorder capture -> span facts, as the writer process builds them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

import pytest

from ccproxy.addons.recorder import telemetry_settings
from ccproxy.config.model import CCProxyConfig, TelemetryConfig
from ccproxy.config.pricing import ModelPrice
from ccproxy.errors import ConfigError
from ccproxy.flowmeta import ClientRequest, FlowMeta, SSEEvent, TransformInfo, UpstreamResponse
from ccproxy.store.record import Captured
from ccproxy.telemetry import writer as span_writer
from ccproxy.telemetry.capture import facts_of, wants_span
from ccproxy.telemetry.export import OTEL_MISSING
from ccproxy.telemetry.genai import span_spec
from tests.store.factory import web_json

FORMATS = {"gem": "gemini", "claude": "anthropic"}


def capture(meta: FlowMeta, path: str = "/v1/messages", host: str = "g.example",
            resp_headers: list[list[str]] | None = None, **kw: object) -> Captured:
    web = web_json("f-1", 1000.0, host=host, port=443, path=path, resp_headers=resp_headers)
    return Captured(web=web, meta=meta, request_body=b'{"a":1}', response_body=b"{}", **kw)  # type: ignore[arg-type]


def test_facts_carry_the_route_and_the_bodies() -> None:
    meta = FlowMeta(source="forward", provider="gem", session_id="s1")
    meta.transform = TransformInfo(mode="transform", reason="rule[0]", to_format="gemini", model="gemini-x")
    meta.upstream_events.append(SSEEvent(1.0, "{}"))
    meta.client_request = ClientRequest("POST", "http://127.0.0.1:1/v1/messages", "HTTP/1.1", [], b"{}", 999.5)
    facts = facts_of(capture(meta), FORMATS, "conv-1")
    assert (facts.source, facts.provider, facts.wire_format, facts.route_action) == ("forward", "gem", "gemini", "transform")
    assert facts.route_model == "gemini-x" and facts.session_id == "s1" and facts.status_code == 200
    assert facts.conversation_id == "conv-1" and facts.upstream_events == meta.upstream_events
    assert facts.start == 999.5 and facts.end == 1000.1 and facts.url == "http://127.0.0.1:1/v1/messages"
    assert (facts.method, facts.server_address, facts.server_port) == ("POST", "g.example", 443)


def test_provider_format_without_a_transform_and_the_url_without_a_client_snapshot() -> None:
    facts = facts_of(capture(FlowMeta(provider="claude")), FORMATS)
    assert facts.wire_format == "anthropic" and facts.url == "http://g.example:443/v1/messages"
    assert facts.request_body == b'{"a":1}'
    assert facts_of(capture(FlowMeta(provider="x"), path="/v1/models"), FORMATS).wire_format is None


def test_an_unrouted_capture_gets_its_format_from_the_path() -> None:
    meta = FlowMeta(transform=TransformInfo(mode="passthrough", reason="original"))
    assert facts_of(capture(meta, "/v1internal:streamGenerateContent?alt=sse"), FORMATS).wire_format == "code_assist"
    assert facts_of(capture(meta, "/v1internal:loadCodeAssist"), FORMATS).wire_format is None


def test_an_intercepted_host_without_a_provider_still_gets_its_format_from_the_path() -> None:
    path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    facts = facts_of(capture(FlowMeta(source="forward"), path, host="myres.openai.azure.com"), FORMATS)
    assert facts.wire_format == "openai"


def test_the_providers_headers_reach_the_span_as_quota_attributes() -> None:
    limits = [["anthropic-ratelimit-unified-status", "allowed"], ["anthropic-ratelimit-unified-5h-utilization", "0.5"]]
    facts = facts_of(capture(FlowMeta(provider="claude"), resp_headers=limits), FORMATS)
    assert ("anthropic-ratelimit-unified-status", "allowed") in facts.response_headers
    attrs = span_spec(facts).attributes
    assert attrs["ccproxy.quota.status"] == "allowed" and attrs["ccproxy.quota.5h.utilization"] == 50.0
    # ccproxy changed what the client got: the provider's own headers are the snapshot's.
    meta = FlowMeta(provider="claude", upstream_response=UpstreamResponse(429, "", [("x-ratelimit-limit-requests", "10")]))
    assert facts_of(capture(meta, resp_headers=limits), FORMATS).response_headers == [("x-ratelimit-limit-requests", "10")]


def test_a_websocket_flow_has_one_span_at_its_101() -> None:
    opened = capture(FlowMeta(), websocket_messages=[], websocket_state={"timestamp_end": None})
    ended = capture(FlowMeta(), websocket_messages=[], websocket_state={"timestamp_end": 1002.0})
    assert wants_span(capture(FlowMeta())) and wants_span(opened) and not wants_span(ended)


def test_the_daemon_names_the_variable_the_span_writer_reads() -> None:
    from ccproxy.store import writer
    from ccproxy.telemetry import writer as span_writer

    assert writer.TELEMETRY_ENV == span_writer.TELEMETRY_ENV and span_writer.__name__ == writer.CHILD_WITH_SPANS


class FakeExport:
    """Stands in for the OTLP exporter (the SDK edge): records what the writer built it with."""

    made: ClassVar[list[FakeExport]] = []
    missing = False

    def __init__(self, config: TelemetryConfig, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self.config, self.prices = config, prices
        FakeExport.made.append(self)

    def start(self) -> FakeExport:
        if FakeExport.missing:
            raise ConfigError(OTEL_MISSING)
        return self


class Said:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def say(self, text: str, level: str = "error") -> None:
        self.lines.append((level, text))


def settings(monkeypatch: pytest.MonkeyPatch) -> None:
    config = CCProxyConfig.model_validate({
        "telemetry": {"otlp": {"endpoint": "http://127.0.0.1:4318"}},
        "prices": {"my-finetune-*": {"input_mtok": 3, "output_mtok": 15}},
    })
    raw = telemetry_settings(config)
    assert raw is not None
    monkeypatch.setenv(span_writer.TELEMETRY_ENV, raw)
    monkeypatch.setattr(span_writer, "SpanExport", FakeExport)
    root = logging.getLogger("ccproxy")  # the writer sends its log to the daemon's channel: not this test's
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    FakeExport.made.clear()


def test_the_writer_prices_spans_with_the_configs_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    settings(monkeypatch)
    monkeypatch.setattr(FakeExport, "missing", False)
    spans = span_writer.spans_from_env(Said())  # type: ignore[arg-type]
    assert spans is not None and [e.prices for e in FakeExport.made] == [
        {"my-finetune-*": ModelPrice(input_mtok=3, output_mtok=15)}
    ]
    assert FakeExport.made[0].config.otlp.endpoint == "http://127.0.0.1:4318"


def test_without_the_otel_extra_the_writer_warns_once_and_stores_without_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    settings(monkeypatch)
    monkeypatch.setattr(FakeExport, "missing", True)
    said = Said()
    assert span_writer.spans_from_env(said) is None  # type: ignore[arg-type]
    assert said.lines == [("warning", OTEL_MISSING)]
