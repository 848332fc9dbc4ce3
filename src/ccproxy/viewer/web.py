"""The live viewer on the mitmweb port: `/ccproxy/` (the page), `/ccproxy/api/data` (the light blob it
polls) and `/ccproxy/api/flow/<id>` (one flow's phases and events, fetched when a turn is selected).

Handlers subclass mitmweb's `AuthRequestHandler`, so the same token guards them (`?token=` once,
then mitmweb's signed cookie; or `Authorization: Bearer`). The blob is built from the flow store's
per-flow facts in a worker process: nothing the viewer asks runs on the proxy's event loop or GIL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitmproxy.tools.web.app import AuthRequestHandler

from ccproxy.viewer.page import render
from ccproxy.viewer.worker import LiveProcess

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig

PATH = "/ccproxy/"


class _Base(AuthRequestHandler):
    def initialize(self, live: LiveProcess) -> None:
        self.live = live

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")


class ViewerRedirect(_Base):
    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(PATH + query)


class ViewerPage(_Base):
    def get(self) -> None:
        self.live.warm()  # the page's first poll follows at once: start the worker now
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render(None))


class ViewerData(_Base):
    async def get(self) -> None:
        body = await self.live.get()
        self.set_header("Content-Type", "application/json")
        self.write(body)


class ViewerFlow(_Base):
    async def get(self, flow_id: str) -> None:
        body = await self.live.flow(flow_id)
        if body is None:
            self.set_status(404)
            body = json.dumps({"error": f"flow {flow_id} is not stored (cleared or trimmed by retention)"}).encode()
        self.set_header("Content-Type", "application/json")
        self.write(body)


def install(app: Any, config: CCProxyConfig, config_dir: Path) -> None:
    """Add the viewer's routes to mitmweb's tornado application (before its own, any host)."""
    from ccproxy.flows.library import FlowLibrary

    args = {"live": LiveProcess(FlowLibrary(config, config_dir))}
    app.add_handlers(r".*", [
        (r"/ccproxy", ViewerRedirect, args),
        (r"/ccproxy/", ViewerPage, args),
        (r"/ccproxy/api/data", ViewerData, args),
        (r"/ccproxy/api/flow/(?P<flow_id>[0-9a-f\-]+)", ViewerFlow, args),
    ])
