"""A restarted daemon's mitmweb view: the newest stored flows as summaries, bodies read when looked at.

Why lazy: agent flows carry request bodies of hundreds of KB, and restoring `inspector.view_limit`
(500) of them with their bodies held ~450 MB in an idle daemon. Live flows go the same way once the
writer has stored them (`unload`, called by `addons/view.py`), so the daemon's memory does not follow
request size. A restored flow keeps its request
line, status, headers, timestamps and ccproxy facts (from the stored flow JSON); its bodies, the
client request snapshot, the provider response and the SSE events are read from the store when
mitmweb asks for them (a content view, a download, the Client Request and Provider Response views),
and only the last few flows read stay cached.

mitmweb's flow list shows a restored flow's body size as unknown: it computes sizes from
`raw_content`, which stays None so that listing 500 flows never reads 500 bodies. Opening the flow
reads the body (through `get_content`). A restored flow is a record, not live traffic: replaying,
duplicating or saving it from mitmweb works on the summary (no body); `ccproxy flows show` has it all.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from mitmproxy import connection, http
from mitmproxy.flow import Error
from mitmproxy.net import encoding
from mitmproxy.websocket import WebSocketData, WebSocketMessage

from ccproxy.errors import FlowError
from ccproxy.flowmeta import META_KEY, FlowMeta
from ccproxy.store.db import FlowStore
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.store.websocket import PART as WS_PART
from ccproxy.store.websocket import raw_messages

CACHE_FLOWS = 8  # restored flows whose bodies stay in memory after being looked at


class _Recent:
    """The parts (and the full metadata) of the last few restored flows looked at."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], StoredFlow] = OrderedDict()
        self.metas: dict[tuple[str, str], FlowMeta] = {}
        self.lock = threading.Lock()

    def flow(self, path: Path, flow_id: str, doc: dict[str, Any] | None = None) -> StoredFlow:
        """The flow's parts (and, for a flow unloaded while live, its stored JSON) from the store."""
        key = (str(path), flow_id)
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        try:
            with FlowStore(path) as store:
                parts = store.parts(flow_id)
                if doc is None:
                    doc = next(iter(store.docs([flow_id])), None)
        except (FlowError, sqlite3.Error):
            parts = {}  # the store or the flow is gone (cleared): the summary is all there is
        stored = StoredFlow(doc or {"id": flow_id}, parts)
        with self.lock:
            self.items[key] = stored
            while len(self.items) > self.size:
                old, _ = self.items.popitem(last=False)
                self.metas.pop(old, None)
        return stored

    def meta(self, path: Path, flow_id: str, doc: dict[str, Any] | None = None) -> FlowMeta:
        key = (str(path), flow_id)
        stored = self.flow(path, flow_id, doc)
        with self.lock:
            meta = self.metas.get(key)
        if meta is None:
            meta = stored.meta()
            with self.lock:
                if key in self.items:
                    self.metas[key] = meta
        return meta


RECENT = _Recent(CACHE_FLOWS)


def _lazy(name: str) -> property:
    """A FlowMeta field read from the store on use (unless something assigned it since the restore)."""

    def get(self: RestoredMeta) -> Any:
        own = self.__dict__
        load = own.get("_load")
        if load is not None and name not in own.get("_assigned", ()):
            return getattr(load(), name)
        return own.get(f"_v_{name}")

    def put(self: RestoredMeta, value: Any) -> None:
        self.__dict__[f"_v_{name}"] = value
        if self.__dict__.get("_load") is not None:
            self.__dict__.setdefault("_assigned", set()).add(name)

    return property(get, put)


class RestoredMeta(FlowMeta):
    """A restored flow's metadata: the body-carrying fields come from the store when read."""

    client_request = _lazy("client_request")
    upstream_response = _lazy("upstream_response")
    upstream_events = _lazy("upstream_events")
    client_events = _lazy("client_events")


class _LazyBody:
    """`get_content` (what content views and downloads use) reads the body from the store;
    `raw_content` stays None, so mitmweb's flow list does not."""

    ccproxy_body: Callable[[], bytes | None] | None = None
    headers: http.Headers
    data: Any

    def get_content(self, strict: bool = True) -> bytes | None:
        if self.data.content is not None or self.ccproxy_body is None:
            content: bytes | None = super().get_content(strict)  # type: ignore[misc]
            return content
        raw = self.ccproxy_body()
        ce = self.headers.get("content-encoding")
        if raw is None or not ce:
            return raw
        try:
            decoded = encoding.decode(raw, ce)
            if isinstance(decoded, str):
                raise ValueError(f"Invalid Content-Encoding: {ce}")
            return decoded
        except ValueError:
            if strict:
                raise
            return raw


class RestoredRequest(_LazyBody, http.Request):
    pass


class RestoredResponse(_LazyBody, http.Response):
    pass


def load_recent(path: Path, limit: int) -> list[dict[str, Any]]:
    """The flow JSON of the newest `limit` stored flows, oldest first: no bodies (runs on a worker thread)."""
    if not path.exists():
        return []
    with FlowStore(path) as store:
        return store.docs(store.ids()[-limit:])


def _headers(pairs: list[Any] | None) -> http.Headers:
    return http.Headers([(str(k).encode(), str(v).encode()) for k, v in pairs or []])


def to_http_flow(doc: dict[str, Any], path: Path) -> http.HTTPFlow:
    """A finished mitmproxy flow rebuilt from its stored JSON: same id, timings, headers and ccproxy
    facts; bodies and events read from the store at `path` when mitmweb shows them."""
    req = doc.get("request") or {}
    ts = float(req.get("timestamp_start") or doc.get("timestamp_created") or 0.0)
    client = connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=ts)
    server = connection.Server(address=(str(req.get("host", "")), int(req.get("port") or 0)))
    flow = http.HTTPFlow(client, server)
    flow.id, flow.live, flow.timestamp_created = str(doc["id"]), False, float(doc.get("timestamp_created") or ts)

    def body(phase: str) -> Callable[[], bytes | None]:
        return lambda: RECENT.flow(path, flow.id, doc).raw_body(phase)

    flow.request = RestoredRequest(
        str(req.get("host", "")), int(req.get("port") or 0), str(req.get("method", "GET")).encode(),
        str(req.get("scheme", "http")).encode(), b"", str(req.get("path", "/")).encode(),
        str(req.get("http_version", "HTTP/1.1")).encode(), _headers(req.get("headers")),
        None, None, ts, req.get("timestamp_end"),
    )
    flow.request.ccproxy_body = body("request")
    resp = doc.get("response")
    if resp:
        flow.response = RestoredResponse(
            str(resp.get("http_version", "HTTP/1.1")).encode(), int(resp.get("status_code") or 0),
            str(resp.get("reason", "")).encode(), _headers(resp.get("headers")), None,
            None, float(resp.get("timestamp_start") or ts), resp.get("timestamp_end"),
        )
        flow.response.ccproxy_body = body("response")
    if doc.get("error"):
        flow.error = Error(str(doc["error"].get("msg", "error")), float(doc["error"].get("timestamp") or ts))
    meta = StoredFlow(doc, {}).meta(RestoredMeta)
    meta.__dict__["_load"] = lambda: RECENT.meta(path, flow.id, doc)
    flow.metadata[META_KEY] = meta
    ws = doc.get("ccproxy", {}).get("websocket")
    if ws is not None:  # sockets are few: their messages are read now, so mitmweb lists them
        flow.websocket = restored_websocket(ws, RECENT.flow(path, flow.id, doc).raw_body(WS_PART))
    return flow


#: The body-carrying fields of FlowMeta that a restored (or unloaded) flow reads from the store.
LAZY_FIELDS = ("client_request", "upstream_response", "upstream_events", "client_events")


def unload(flow: http.HTTPFlow, path: Path) -> bool:
    """Drop a finished, stored flow's bodies from memory: from now on it reads them from the store when
    mitmweb shows them, exactly as a restored flow does. Why: agent requests run to megabytes and
    mitmweb's view holds `inspector.view_limit` flows, so a daemon holding them whole grew with request
    size x flows. Sockets and flows still in flight are left alone; returns whether it unloaded."""
    if flow.live or flow.websocket is not None or isinstance(flow.request, RestoredRequest):
        return False
    fid = flow.id

    def body(phase: str) -> Callable[[], bytes | None]:
        return lambda: RECENT.flow(path, fid).raw_body(phase)

    flow.request.__class__ = RestoredRequest
    cast(RestoredRequest, flow.request).ccproxy_body = body("request")
    flow.request.data.content = None
    if flow.response is not None:
        flow.response.__class__ = RestoredResponse
        cast(RestoredResponse, flow.response).ccproxy_body = body("response")
        flow.response.data.content = None
    meta = flow.metadata.get(META_KEY)
    if isinstance(meta, FlowMeta) and not isinstance(meta, RestoredMeta):
        meta.__class__ = RestoredMeta
        for name in LAZY_FIELDS:
            meta.__dict__.pop(name, None)
        meta.__dict__["_load"] = lambda: RECENT.meta(path, fid)
    return True


def restored_websocket(ws: dict[str, Any], data: bytes | None) -> WebSocketData:
    """A stored socket's messages and close state, so mitmweb shows them again after a restart."""
    return WebSocketData(
        messages=[WebSocketMessage(op, from_client, content, t) for t, from_client, op, content in raw_messages(data)],
        closed_by_client=ws.get("closed_by_client"),
        close_code=ws.get("close_code"),
        close_reason=ws.get("close_reason"),
        timestamp_end=ws.get("timestamp_end"),
    )
