"""The reverse listener answers `GET /health` itself, so scripts can probe the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from ccproxy import __version__
from ccproxy.addons import errors
from ccproxy.flows.meta import get_meta

HEALTH_PATH = "/health"


class Health:
    """Answer `/health` on the reverse listener with version, uptime, listeners and the flow store's
    live counters (`ccproxy status` reads them here first: a full disk cannot stale this answer)."""

    def __init__(self, listeners: dict[str, str], store: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.started = time.time()
        self.listeners = listeners
        self.store = store

    def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.source != "reverse" or flow.request.path.split("?")[0] != HEALTH_PATH:
            return
        if flow.request.method not in ("GET", "HEAD"):
            return
        meta.internal = True
        body = {
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.time() - self.started, 3),
            "listeners": self.listeners,
        }
        if self.store is not None and (stats := self.store()) is not None:
            body["store"] = stats
        errors.answer_json(flow, 200, body)
