"""The reverse listener answers `GET /health` (and a bare `HEAD /` probe) itself, so scripts can probe the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from ccproxy import __version__
from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors

HEALTH_PATH = "/health"


class Health:
    """Answer `/health` and `HEAD /` on the reverse listener with version, uptime, listeners and the
    flow store's live counters (`ccproxy status` reads them here first: a full disk cannot stale this answer)."""

    def __init__(self, listeners: dict[str, str], store: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.started = time.time()
        self.listeners = listeners
        self.store = store

    def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        path = flow.request.path.split("?")[0]
        if meta.source != "reverse" or path not in (HEALTH_PATH, "/"):
            return
        if flow.request.method not in ("GET", "HEAD") or (path == "/" and flow.request.method != "HEAD"):
            return  # `HEAD /` is a client's reachability probe (Claude Code sends one): no flow, no 501
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
