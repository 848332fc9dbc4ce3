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

    def auth_fail(self, invalid_password: bool) -> None:
        """The 403 says how to get in, instead of an empty page."""
        what = "That token is not this daemon's." if invalid_password else "This page needs the daemon's web token."
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write(
            f"403: {what} Run `ccproxy status --show-secrets` and open the viewer URL it prints "
            "(…/ccproxy/?token=…), or send `Authorization: Bearer <token>`.\n"
        )


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


def install(app: Any, config: CCProxyConfig, config_dir: Path, in_flight: dict[str, Any] | None = None,
            quota: dict[str, Any] | None = None) -> None:
    """Add the viewer's routes to mitmweb's tornado application (before its own, any host); `in_flight`:
    the flows in flight (`addons/live.py`), `quota`: the newest quota per credential (`addons/quota.py`)."""
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.viewer.live import PATH as LIVE_PATH
    from ccproxy.viewer.live import LiveStreams

    args = {"live": LiveProcess(FlowLibrary(config, config_dir))}
    app.add_handlers(r".*", [
        (LIVE_PATH, LiveStreams, {"flows": in_flight if in_flight is not None else {},
                                  "quota": quota if quota is not None else {}}),
        (r"/ccproxy", ViewerRedirect, args),
        (r"/ccproxy/", ViewerPage, args),
        (r"/ccproxy/api/data", ViewerData, args),
        (r"/ccproxy/api/flow/(?P<flow_id>[0-9a-f\-]+)", ViewerFlow, args),
    ])
