"""The live viewer on the mitmweb port: `/ccproxy/` (the page) and `/ccproxy/api/data` (the blob it polls).

Handlers subclass mitmweb's `AuthRequestHandler`, so the same token guards them (`?token=` once,
then mitmweb's signed cookie; or `Authorization: Bearer`). The blob is built from the flow store
in a worker thread: reading SQLite must not stall the proxy's event loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitmproxy.tools.web.app import AuthRequestHandler

from ccproxy.viewer.page import render

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig

PATH = "/ccproxy/"
#: The live page shows the newest flows of the set; `flows export --html --jq` reaches further back.
LIVE_LIMIT = 500


def live_data(config: CCProxyConfig, config_dir: Path) -> dict[str, Any]:
    from ccproxy.flows import api
    from ccproxy.viewer.data import viewer_data

    ids = api.resolve_ids(config, config_dir)[-LIVE_LIMIT:]
    return viewer_data(api.load(config, config_dir, ids), redacted=True)


class _Base(AuthRequestHandler):
    def initialize(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.ccp_config = config
        self.ccp_dir = config_dir

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")


class ViewerRedirect(_Base):
    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(PATH + query)


class ViewerPage(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render(None))


class ViewerData(_Base):
    async def get(self) -> None:
        data = await asyncio.to_thread(live_data, self.ccp_config, self.ccp_dir)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(data, ensure_ascii=False, default=str))


def install(app: Any, config: CCProxyConfig, config_dir: Path) -> None:
    """Add the viewer's routes to mitmweb's tornado application (before its own, any host)."""
    args = {"config": config, "config_dir": config_dir}
    app.add_handlers(r".*", [
        (r"/ccproxy", ViewerRedirect, args),
        (r"/ccproxy/", ViewerPage, args),
        (r"/ccproxy/api/data", ViewerData, args),
    ])
