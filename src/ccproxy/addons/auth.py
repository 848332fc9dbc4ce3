"""401 from a provider whose credential ccproxy injected: re-resolve, and replay once if it changed."""

from __future__ import annotations

from typing import Any

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig


class AuthRefresh:
    """Runs after the outbound stage; the client sees only the final answer."""

    def __init__(self, config: CCProxyConfig, services: dict[str, Any]) -> None:
        self.config = config
        self.services = services

    async def response(self, flow: http.HTTPFlow) -> None:
        return None
