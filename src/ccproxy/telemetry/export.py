"""OTLP/HTTP export off the proxy's hot path, and a down collector that costs only a counted warning.

The proxy's event loop only puts a `FlowFacts` snapshot on a bounded queue (a full queue drops the
flow's span and counts it). One worker thread turns facts into spans (body parsing happens there)
and hands them to the SDK's `BatchSpanProcessor`, whose own thread batches and exports them. The SDK
and exporter are imported only when an endpoint is configured.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ccproxy import __version__
from ccproxy.config.model import OtlpConfig, TelemetryConfig
from ccproxy.errors import ConfigError
from ccproxy.sessions.cost import Price
from ccproxy.telemetry.genai import FlowFacts, span_spec

log = logging.getLogger("ccproxy.telemetry")

#: The OpenTelemetry SDK and exporters are the optional `otel` extra (grpcio alone is ~19 MB).
OTEL_MISSING = (
    "telemetry.enabled needs the OpenTelemetry SDK, which this install lacks: install ccproxy with its "
    "`otel` extra (`uv sync --extra otel`, or `pip install 'ccproxy[otel]'`), or set telemetry.enabled: false"
)
QUEUE_SIZE = 4096
WARN_INTERVAL = 60.0
#: The SDK's and exporter's own loggers would log every failed batch; ours counts and rate-limits.
QUIET_LOGGERS = ("opentelemetry.exporter.otlp", "opentelemetry.sdk.trace.export", "opentelemetry.exporter")


def traces_url(endpoint: str) -> str:
    """A bare collector address gets OTLP/HTTP's traces path; a URL with a path is used as given."""
    parts = urlsplit(endpoint)
    return endpoint if parts.path not in ("", "/") else endpoint.rstrip("/") + "/v1/traces"


def make_exporter(otlp: OtlpConfig, endpoint: str) -> Any:
    """The official OTLP exporter for the configured protocol (imported only now)."""
    if otlp.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        parts = urlsplit(endpoint)
        return GrpcExporter(
            endpoint=parts.netloc or endpoint,
            insecure=parts.scheme != "https",
            headers={k.lower(): v for k, v in otlp.headers.items()},  # gRPC metadata keys are lowercase
            timeout=otlp.timeout,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, headers=dict(otlp.headers), timeout=otlp.timeout)


class FailureCounter:
    """Counts failed exports; logs at most one warning per `interval` seconds, with the totals."""

    def __init__(self, endpoint: str, interval: float = WARN_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint = endpoint
        self.interval = interval
        self.clock = clock
        self.failed_batches = 0
        self.failed_spans = 0
        self.dropped_spans = 0
        self.warnings = 0
        self._last: float | None = None
        self._lock = threading.Lock()

    def failed(self, spans: int) -> None:
        with self._lock:
            self.failed_batches += 1
            self.failed_spans += spans
            self._maybe_warn()

    def dropped(self, spans: int = 1) -> None:
        with self._lock:
            self.dropped_spans += spans
            self._maybe_warn()

    def _maybe_warn(self) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        self.warnings += 1
        log.warning(
            "telemetry: OTLP export to %s failing: %d span(s) in %d batch(es) not exported, %d dropped "
            "(queue full) so far; check that the collector runs (telemetry.otlp.endpoint). "
            "Proxying is not affected; next report in %.0fs at the earliest",
            self.endpoint,
            self.failed_spans,
            self.failed_batches,
            self.dropped_spans,
            self.interval,
        )


def counting_exporter(inner: Any, counter: FailureCounter) -> Any:
    """A SpanExporter that reports failed batches (and exceptions) to `counter` instead of raising."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class CountingExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            try:
                result = inner.export(spans)
            except Exception:
                result = SpanExportResult.FAILURE
            if result != SpanExportResult.SUCCESS:
                counter.failed(len(spans))
            return result  # type: ignore[no-any-return]

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return bool(inner.force_flush(timeout_millis))

    return CountingExporter()


class SpanExport:
    """Owns the tracer provider, the worker thread and the bounded queue of flow snapshots."""

    def __init__(self, config: TelemetryConfig, prices: Mapping[str, Price] | None = None) -> None:
        assert config.otlp.endpoint is not None
        self.config = config
        self.prices = prices  # `prices:` of ccproxy.yaml, for `ccproxy.cost.usd`
        grpc = config.otlp.protocol == "grpc"
        self.endpoint = config.otlp.endpoint if grpc else traces_url(config.otlp.endpoint)
        self.counter = FailureCounter(self.endpoint)
        self.queue: queue.Queue[FlowFacts | None] = queue.Queue(QUEUE_SIZE)
        self.exported = 0
        self.provider: Any = None
        self.tracer: Any = None
        self.thread = threading.Thread(target=self._work, name="ccproxy-otlp", daemon=True)

    def start(self) -> SpanExport:
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise ConfigError(OTEL_MISSING) from None

        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        otlp = self.config.otlp
        inner = make_exporter(otlp, self.endpoint)
        resource = Resource.create({"service.name": self.config.service_name, "service.version": __version__})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(counting_exporter(inner, self.counter)))
        self.tracer = self.provider.get_tracer("ccproxy", __version__)
        self.thread.start()
        log.info(
            "telemetry: exporting finished flows as OTLP spans to %s over %s (headers: %s; content: %s)",
            self.endpoint,
            otlp.protocol,
            ", ".join(header_names(otlp.headers)) or "none",
            "yes" if self.config.capture_content else "no",
        )
        return self

    def submit(self, facts: FlowFacts) -> None:
        """Event loop side: never blocks; a full queue drops the span and counts it."""
        try:
            self.queue.put_nowait(facts)
        except queue.Full:
            self.counter.dropped()

    def _work(self) -> None:
        while (facts := self.queue.get()) is not None:
            try:
                self._emit(facts)
            except Exception:
                log.exception("telemetry: flow %s could not be turned into a span", facts.flow_id[:8])

    def _emit(self, facts: FlowFacts) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        spec = span_spec(facts, self.config.capture_content, self.prices)
        span = self.tracer.start_span(spec.name, kind=SpanKind.CLIENT, start_time=spec.start_ns, attributes=spec.attributes)
        if spec.error:
            span.set_status(Status(StatusCode.ERROR, spec.error[:500]))
        span.end(end_time=spec.end_ns)
        self.exported += 1

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded), then stop the worker and the SDK's thread."""
        self.queue.put(None)
        self.thread.join(timeout)
        if self.provider is not None:
            self.provider.force_flush(int(timeout * 1000))
            self.provider.shutdown()


def header_names(headers: Mapping[str, str]) -> list[str]:
    """For logs: which headers are sent, never their values (they often hold an API key)."""
    return sorted(headers)
