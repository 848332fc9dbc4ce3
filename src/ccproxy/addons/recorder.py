"""Write every finished flow to the flow store, so flows survive restarts."""

from __future__ import annotations

import logging
from pathlib import Path

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.api import store_path
from ccproxy.flows.meta import get_meta
from ccproxy.flows.record import Captured, FlowRecord, build_record
from ccproxy.flows.writer import StoreWriter

log = logging.getLogger("ccproxy.recorder")


def capture(flow: http.HTTPFlow) -> FlowRecord:
    """Read the finished flow (mitmweb's own flow JSON included) into a store record."""
    from mitmproxy.tools.web.app import flow_to_json

    err = flow.error
    return build_record(
        Captured(
            web=flow_to_json(flow),
            meta=get_meta(flow),
            request_body=flow.request.raw_content or b"",
            response_body=flow.response.raw_content if flow.response is not None else None,
            error=err.msg if err else None,
            error_ts=err.timestamp if err else None,
        )
    )


class Recorder:
    """Late in the chain: a flow is finished only after auth replay and the sanitizer ran.

    Records are built on the event loop (cheap: bodies are shared, not copied) and written by a
    background thread, so a slow disk never delays a client."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.writer: StoreWriter | None = None

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            retention = self.config.flows.retention
            path = store_path(self.config, self.config_dir)
            self.writer = StoreWriter(path, retention.max_count, retention.max_age_days).start()
        return self.writer

    def running(self) -> None:
        self._writer()

    def done(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.extra.get("internal"):
            return  # ccproxy's own endpoints (/health) are not traffic
        try:
            record = capture(flow)
        except Exception:
            log.exception("flow %s: could not build its store record; it is not recorded", flow.id[:8])
            return
        meta.usage = record.ccproxy.get("usage")
        meta.conversation_id = record.ccproxy.get("conversation_id")
        self._writer().submit(record)
