"""The flow writer process with OTLP export: `python -m ccproxy.telemetry.writer`, when an endpoint is set.

Why in the writer: it already receives and parses every finished flow, and it is not the proxy's
process, so building and exporting spans no longer competes with the proxy for its GIL (that cost
32 % of throughput when the proxy was CPU-bound). The daemon starts this module instead of
`ccproxy.flows.writerproc` and passes its telemetry settings in `TELEMETRY_ENV`; the exporter's log
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
from ccproxy.flows.record import Captured, FlowRecord
from ccproxy.flows.writerproc import Channel, serve
from ccproxy.telemetry.capture import facts_of, wants_span
from ccproxy.telemetry.export import SpanExport

#: The daemon's telemetry settings, as JSON: {"telemetry": TelemetryConfig, "formats": {provider: format}}.
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
    raw = os.environ.get(TELEMETRY_ENV)
    if not raw:
        return None
    root = logging.getLogger("ccproxy")
    root.addHandler(ChannelHandler(channel))
    root.setLevel(logging.INFO)
    doc: dict[str, Any] = json.loads(raw)
    return Spans(SpanExport(TelemetryConfig.model_validate(doc["telemetry"])).start(), doc.get("formats") or {})


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), spans_from_env)
