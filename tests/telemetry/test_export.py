"""The exporter's edges: the traces URL, counted and rate-limited failures, a never-blocking queue."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ccproxy.config.model import CCProxyConfig, TelemetryConfig
from ccproxy.errors import ConfigError
from ccproxy.telemetry.export import FailureCounter, SpanExport, counting_exporter, traces_url
from ccproxy.telemetry.genai import FlowFacts


def test_traces_url_adds_the_path_only_to_a_bare_address() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"


def test_failures_are_counted_and_warned_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    counter = FailureCounter("http://c/v1/traces", interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "ccproxy.telemetry"):
        for _ in range(5):
            counter.failed(10)
        counter.dropped(2)
        assert counter.warnings == 1 and len(caplog.records) == 1
        now[0] += 61
        counter.failed(1)
    assert (counter.failed_batches, counter.failed_spans, counter.dropped_spans) == (6, 51, 2)
    assert counter.warnings == 2
    assert "51 span(s) in 6 batch(es) not exported, 2 dropped" in caplog.records[-1].getMessage()


class Flaky(SpanExporter):
    def __init__(self, results: list[Any]) -> None:
        self.results = results

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        pass


def test_counting_exporter_counts_failures_and_swallows_exceptions() -> None:
    counter = FailureCounter("x", clock=lambda: 0.0)
    inner = Flaky([SpanExportResult.SUCCESS, SpanExportResult.FAILURE, ConnectionError("down")])
    exporter = counting_exporter(inner, counter)
    assert exporter.export([1, 2]) == SpanExportResult.SUCCESS
    assert exporter.export([1]) == SpanExportResult.FAILURE
    assert exporter.export([1, 2, 3]) == SpanExportResult.FAILURE
    assert (counter.failed_batches, counter.failed_spans) == (2, 4)


def facts() -> FlowFacts:
    return FlowFacts("id", 1.0, 2.0, "POST", "http://h/v1/messages", "h", 80, "reverse")


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    export = SpanExport(TelemetryConfig.model_validate({"otlp": {"endpoint": "http://127.0.0.1:9"}}))
    # Not started: nothing drains the queue.
    for _ in range(export.queue.maxsize + 3):
        export.submit(facts())
    assert export.counter.dropped_spans == 3


def test_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ValueError, match="not an http"):
        CCProxyConfig.model_validate({"telemetry": {"otlp": {"endpoint": "collector:4317"}}})
    assert ConfigError  # config errors reach the user through the loader, like every other key
