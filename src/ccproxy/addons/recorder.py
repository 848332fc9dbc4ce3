"""Write every finished flow to the flow store, so flows survive restarts (and reappear in mitmweb,
which `addons/view.py` restores)."""

from __future__ import annotations

import dataclasses
import json
import logging
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from mitmproxy import http
from mitmproxy.websocket import WebSocketData

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.flows.secrets import redact_captured
from ccproxy.store.api import store_path
from ccproxy.store.record import Captured
from ccproxy.store.websocket import RawMessage
from ccproxy.store.writer import StoreWriter

log = logging.getLogger("ccproxy.recorder")


def snapshot(meta: FlowMeta) -> FlowMeta:
    """A copy the writer thread can read while the flow lives on (a replay may append to the lists)."""
    copy = dataclasses.replace(meta)
    copy.upstream_events, copy.client_events = list(meta.upstream_events), list(meta.client_events)
    copy.hooks, copy.warnings = list(meta.hooks), list(meta.warnings)
    copy.upstream_raw, copy.stream_filters = bytearray(meta.upstream_raw), []
    return copy


def capture(flow: http.HTTPFlow) -> Captured:
    """What a store record is built from: mitmweb's own flow JSON, a metadata snapshot, the bodies."""
    from mitmproxy.tools.web.app import flow_to_json

    err = flow.error
    ws = flow.websocket
    return Captured(
        web=flow_to_json(flow),
        meta=snapshot(get_meta(flow)),
        request_body=flow.request.raw_content or b"",
        response_body=flow.response.raw_content if flow.response is not None else None,
        error=err.msg if err else None,
        error_ts=err.timestamp if err else None,
        websocket_messages=websocket_messages(ws) if ws is not None else None,
        websocket_state=websocket_state(ws) if ws is not None else None,
    )


def websocket_messages(ws: WebSocketData) -> list[RawMessage]:
    """The socket's messages so far, copied: the live list grows while the writer reads the copy."""
    return [(m.timestamp, m.from_client, int(m.type), m.content) for m in ws.messages]


def websocket_state(ws: WebSocketData) -> dict[str, Any]:
    return {
        "closed_by_client": ws.closed_by_client,
        "close_code": ws.close_code,
        "close_reason": ws.close_reason,
        "timestamp_end": ws.timestamp_end,
    }


def telemetry_settings(config: CCProxyConfig) -> str | None:
    """What the writer process needs to export each flow as an OTLP span (None: no endpoint)."""
    if not config.telemetry.otlp.endpoint:
        return None
    formats = {name: p.provider for name, p in config.providers.items()}
    prices = {name: p.model_dump(mode="json") for name, p in config.prices.items()}
    return json.dumps({"telemetry": config.telemetry.model_dump(mode="json"), "formats": formats, "prices": prices})


class Recorder:
    """Late in the chain: a flow is finished only after auth replay and the sanitizer ran.

    On the event loop it only takes a snapshot (bodies are shared, not copied); parsing bodies and
    streams (usage, conversation id) and writing happen on the store's thread, so neither a big
    body nor a slow disk delays a client."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.writer: StoreWriter | None = None
        #: Live flows' metadata awaiting their derived facts; weak, so a flow that fails to build leaks nothing.
        self.metas: weakref.WeakValueDictionary[str, FlowMeta] = weakref.WeakValueDictionary()
        #: Ids of flows the writer has stored, oldest first (appended on the writer's thread): the view
        #: drops their bodies from memory (`addons/view.py`).
        self.written: deque[str] = deque(maxlen=100_000)

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            retention = self.config.flows.retention
            path = store_path(self.config, self.config_dir)
            self.writer = StoreWriter(
                path, retention.max_count, retention.max_age_days, on_record=self._recorded,
                telemetry=telemetry_settings(self.config), max_disk_mb=retention.max_disk_mb,
            ).start()
        return self.writer

    def _recorded(self, flow_id: str, usage: Any, conversation_id: Any) -> None:
        """Writer's reader thread: hand the derived facts back to the live flow's metadata."""
        self.written.append(flow_id)
        if usage is None and conversation_id is None:
            return  # nothing to hand back (a socket's 101 record); a later record of the flow may have some
        meta = self.metas.pop(flow_id, None)
        if meta is not None:
            meta.usage = usage
            meta.conversation_id = conversation_id

    def store_stats(self) -> dict[str, Any] | None:
        """The writer's live counters (None before it started), for `/health`."""
        writer = self.writer
        return writer.stats() if writer is not None else None

    async def running(self) -> None:
        self._writer()

    def done(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        """A WebSocket flow was recorded at its 101; now again, under the same id, with every message."""
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.internal:
            return  # ccproxy's own endpoints (/health) are not traffic
        try:
            captured = capture(flow)
            if self.config.flows.redact_secrets:  # before the hand-off: no file of ours ever holds them
                captured = redact_captured(captured)
        except Exception:
            log.exception("flow %s: could not capture it for the store; it is not recorded", flow.id[:8])
            return
        self.metas[flow.id] = meta
        if not self._writer().submit(captured):
            self.metas.pop(flow.id, None)
