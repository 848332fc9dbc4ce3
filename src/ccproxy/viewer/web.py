"""The live viewer on the mitmweb port: `/ccproxy/` (the page), `/ccproxy/api/data` (the light blob it
polls) and `/ccproxy/api/flow/<id>` (one flow's phases and events, fetched when a turn is selected).

Handlers subclass mitmweb's `AuthRequestHandler`, so the same token guards them (`?token=` once,
then mitmweb's signed cookie; or `Authorization: Bearer`). The blob is built from the flow store
in a worker thread: reading SQLite must not stall the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitmproxy.tools.web.app import AuthRequestHandler

from ccproxy.flows.session import Memo
from ccproxy.viewer.page import render

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.library import FlowLibrary

PATH = "/ccproxy/"
#: The live page shows the newest flows of the set; `flows export --html --jq` reaches further back.
LIVE_LIMIT = 500


class LiveData:
    """The light blob of the newest flows, rebuilt only when the set changed (the page polls every 3 s)."""

    def __init__(self, library: FlowLibrary) -> None:
        self.library = library
        self.key: tuple[str, ...] = ()
        self.body = b""
        self.lock = threading.Lock()
        self.memo = Memo()

    def get(self) -> bytes:
        from ccproxy.viewer.data import viewer_data

        with self.lock:
            ids = tuple(self.library.ids()[-LIVE_LIMIT:])
            if ids != self.key or not self.body:
                flows = self.library.load(ids)
                data = viewer_data(flows, redacted=True, details=False, memo=self.memo)
                self.memo.keep(set(ids))
                self.body = json.dumps(data, ensure_ascii=False, default=str).encode()
                self.key = ids
            return self.body

    def flow(self, flow_id: str) -> bytes | None:
        from ccproxy.viewer.data import flow_detail

        flows = self.library.load([flow_id])
        if not flows:
            return None
        return json.dumps(flow_detail(flows[0], redacted=True), ensure_ascii=False, default=str).encode()


class _Base(AuthRequestHandler):
    def initialize(self, live: LiveData) -> None:
        self.live = live

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")


def _without_token(query: str) -> str:
    """The query string minus `token=`: once the cookie is set, the token must not stay in the address bar
    (nor, with it, in the browser's history)."""
    from urllib.parse import parse_qsl, urlencode

    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
    return f"?{urlencode(kept)}" if kept else ""


class ViewerRedirect(_Base):
    def get(self) -> None:
        self.redirect(PATH + _without_token(self.request.query))


class ViewerPage(_Base):
    def get(self) -> None:
        if "token" in self.request.query_arguments:  # authenticated by now: the signed cookie is set
            self.redirect(PATH + _without_token(self.request.query))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render(None))


class ViewerData(_Base):
    async def get(self) -> None:
        body = await asyncio.to_thread(self.live.get)
        self.set_header("Content-Type", "application/json")
        self.write(body)


class ViewerFlow(_Base):
    async def get(self, flow_id: str) -> None:
        body = await asyncio.to_thread(self.live.flow, flow_id)
        if body is None:
            self.set_status(404)
            body = json.dumps({"error": f"flow {flow_id} is not stored (cleared or trimmed by retention)"}).encode()
        self.set_header("Content-Type", "application/json")
        self.write(body)


def install(app: Any, config: CCProxyConfig, config_dir: Path) -> None:
    """Add the viewer's routes to mitmweb's tornado application (before its own, any host)."""
    from ccproxy.flows.library import FlowLibrary

    args = {"live": LiveData(FlowLibrary(config, config_dir))}
    app.add_handlers(r".*", [
        (r"/ccproxy", ViewerRedirect, args),
        (r"/ccproxy/", ViewerPage, args),
        (r"/ccproxy/api/data", ViewerData, args),
        (r"/ccproxy/api/flow/(?P<flow_id>[0-9a-f\-]+)", ViewerFlow, args),
    ])
