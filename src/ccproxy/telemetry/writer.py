"""The flow writer process with OTLP export: `python -m ccproxy.telemetry.writer`, when an endpoint is set.

Why in the writer: it already receives and parses every finished flow, and it is not the proxy's
process, so building and exporting spans no longer competes with the proxy for its GIL (that cost
32 % of throughput when the proxy was CPU-bound). The daemon starts this module instead of
`ccproxy.store.writerproc` and passes its telemetry settings in `TELEMETRY_ENV`; the exporter's log
lines reach the daemon's log through the writer's channel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ccproxy.config.model import TelemetryConfig
from ccproxy.config.pricing import ModelPrice
from ccproxy.errors import ConfigError
from ccproxy.store.record import Captured, FlowRecord
from ccproxy.store.writerproc import Channel, serve
from ccproxy.telemetry.capture import facts_of, wants_span
from ccproxy.telemetry.export import SpanExport

#: The daemon's telemetry settings, as JSON: {"telemetry": TelemetryConfig, "formats": {provider: format},
#: "prices": {model: ModelPrice}} (`prices:` of ccproxy.yaml, for `ccproxy.cost.usd`).
TELEMETRY_ENV = "CCPROXY_WRITER_TELEMETRY"


class ChannelHandler(logging.Handler):
    """This process's log records (the exporter's warnings) go to the daemon's log."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warning" if record.levelno >= logging.WARNING else "info"
        with contextlib.suppress(OSError, ValueError):
            self.channel.say(record.getMessage(), level)


class Spans:
    """Each stored capture, also as an OTLP span (the SDK batches and exports on its own threads)."""

    def __init__(self, export: SpanExport, formats: dict[str, str]) -> None:
        self.export, self.formats = export, formats

    def submit(self, captured: Captured, record: FlowRecord) -> None:
        if wants_span(captured):
            self.export.submit(facts_of(captured, self.formats, record.ccproxy.get("conversation_id")))

    def close(self) -> None:
        self.export.close()


def spans_from_env(channel: Channel) -> Spans | None:
    """The span export the daemon asked for; None without settings, or (with one warning in the daemon's
    log) when the `otel` extra is not installed: the flows are still stored."""
    raw = os.environ.get(TELEMETRY_ENV)
    if not raw:
        return None
    root = logging.getLogger("ccproxy")
    root.addHandler(ChannelHandler(channel))
    root.setLevel(logging.INFO)
    doc: dict[str, Any] = json.loads(raw)
    prices = {name: ModelPrice.model_validate(p) for name, p in (doc.get("prices") or {}).items()}
    try:
        export = SpanExport(TelemetryConfig.model_validate(doc["telemetry"]), prices).start()
    except ConfigError as exc:
        logging.getLogger("ccproxy.telemetry").warning("%s", exc)
        return None
    return Spans(export, doc.get("formats") or {})


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), spans_from_env)
