"""Write every finished flow to the flow store, so flows survive restarts (and reappear in mitmweb)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from pathlib import Path
from typing import Any

from mitmproxy import connection, ctx, http
from mitmproxy.flow import Error
from mitmproxy.websocket import WebSocketData, WebSocketMessage

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.api import store_path
from ccproxy.flows.meta import META_KEY, FlowMeta, get_meta
from ccproxy.flows.record import Captured
from ccproxy.flows.store import FlowStore
from ccproxy.flows.stored import StoredFlow
from ccproxy.flows.websocket import PART as WS_PART
from ccproxy.flows.websocket import RawMessage, raw_messages
from ccproxy.flows.writer import StoreWriter

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


def load_recent(path: Path, limit: int) -> list[StoredFlow]:
    """The newest `limit` stored flows, oldest first (runs on a worker thread)."""
    if not path.exists():
        return []
    with FlowStore(path) as store:
        ids = store.ids()[-limit:]
        return [StoredFlow(doc, store.parts(doc["id"])) for doc in store.docs(ids)]


def _headers(pairs: list[Any] | None) -> http.Headers:
    return http.Headers([(str(k).encode(), str(v).encode()) for k, v in pairs or []])


def to_http_flow(stored: StoredFlow) -> http.HTTPFlow:
    """A finished mitmproxy flow rebuilt from the store: same id, bodies, timings and ccproxy metadata."""
    doc, req = stored.doc, stored.doc.get("request") or {}
    ts = float(req.get("timestamp_start") or doc.get("timestamp_created") or 0.0)
    client = connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=ts)
    server = connection.Server(address=(str(req.get("host", "")), int(req.get("port") or 0)))
    flow = http.HTTPFlow(client, server)
    flow.id, flow.live, flow.timestamp_created = stored.id, False, float(doc.get("timestamp_created") or ts)
    flow.request = http.Request(
        str(req.get("host", "")), int(req.get("port") or 0), str(req.get("method", "GET")).encode(),
        str(req.get("scheme", "http")).encode(), b"", str(req.get("path", "/")).encode(),
        str(req.get("http_version", "HTTP/1.1")).encode(), _headers(req.get("headers")),
        stored.raw_body("request"), None, ts, req.get("timestamp_end"),
    )
    resp = doc.get("response")
    if resp:
        flow.response = http.Response(
            str(resp.get("http_version", "HTTP/1.1")).encode(), int(resp.get("status_code") or 0),
            str(resp.get("reason", "")).encode(), _headers(resp.get("headers")), stored.raw_body("response"),
            None, float(resp.get("timestamp_start") or ts), resp.get("timestamp_end"),
        )
    if doc.get("error"):
        flow.error = Error(str(doc["error"].get("msg", "error")), float(doc["error"].get("timestamp") or ts))
    flow.metadata[META_KEY] = stored.meta()
    ws = stored.ccproxy.get("websocket")
    if ws is not None:
        flow.websocket = restored_websocket(ws, stored.raw_body(WS_PART))
    return flow


def restored_websocket(ws: dict[str, Any], data: bytes | None) -> WebSocketData:
    """A stored socket's messages and close state, so mitmweb shows them again after a restart."""
    return WebSocketData(
        messages=[WebSocketMessage(op, from_client, content, t) for t, from_client, op, content in raw_messages(data)],
        closed_by_client=ws.get("closed_by_client"),
        close_code=ws.get("close_code"),
        close_reason=ws.get("close_reason"),
        timestamp_end=ws.get("timestamp_end"),
    )


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
        self.restoring: asyncio.Task[None] | None = None

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            retention = self.config.flows.retention
            path = store_path(self.config, self.config_dir)
            self.writer = StoreWriter(
                path, retention.max_count, retention.max_age_days, on_record=self._recorded
            ).start()
        return self.writer

    def _recorded(self, flow_id: str, usage: Any, conversation_id: Any) -> None:
        """Writer's reader thread: hand the derived facts back to the live flow's metadata."""
        if usage is None and conversation_id is None:
            return  # nothing to hand back (a socket's 101 record); a later record of the flow may have some
        meta = self.metas.pop(flow_id, None)
        if meta is not None:
            meta.usage = usage
            meta.conversation_id = conversation_id

    async def running(self) -> None:
        self._writer()
        # mitmweb starts empty; show the newest stored flows again, without delaying readiness.
        self.restoring = asyncio.get_running_loop().create_task(self._restore(self.config.inspector.view_limit))

    async def _restore(self, limit: int) -> None:
        try:
            stored = await asyncio.to_thread(load_recent, store_path(self.config, self.config_dir), limit)
            view: Any = ctx.master.addons.get("view")
            if stored and view is not None:
                view.add([to_http_flow(f) for f in stored if view.get_by_id(f.id) is None])
                log.info("mitmweb: %d stored flow(s) restored into the view", len(stored))
        except Exception:
            log.exception("could not restore stored flows into the mitmweb view")

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
        if meta.extra.get("internal"):
            return  # ccproxy's own endpoints (/health) are not traffic
        try:
            captured = capture(flow)
        except Exception:
            log.exception("flow %s: could not capture it for the store; it is not recorded", flow.id[:8])
            return
        self.metas[flow.id] = meta
        if not self._writer().submit(captured):
            self.metas.pop(flow.id, None)
