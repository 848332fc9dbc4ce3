"""Decide where each flow goes: the sentinel's provider, a provider whose path matches, or a 501."""

from __future__ import annotations

import json
import logging

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig, ProviderConfig
from ccproxy.flows.meta import TransformInfo, get_meta
from ccproxy.wire.endpoints import main_endpoint, path_matches, provider_path

log = logging.getLogger("ccproxy.router")


def destination_path(provider: ProviderConfig, path: str) -> str:
    """The provider's `path` for its format's main endpoint; any other path is kept as is."""
    bare, sep, query = path.partition("?")
    hit = main_endpoint(bare)
    if hit is None or hit.format != provider.provider:
        return path
    return provider_path(provider.path, hit) + sep + query


def point_at(request: http.Request, provider: ProviderConfig, path: str) -> None:
    request.scheme = provider.scheme
    request.host = provider.hostname
    request.port = provider.port
    request.path = path
    default_port = 443 if provider.scheme == "https" else 80
    request.headers["host"] = provider.hostname if provider.port == default_port else provider.host


def match_provider(config: CCProxyConfig, path: str) -> str | None:
    for name, provider in config.providers.items():
        if path_matches(provider.path, path):
            return name
    return None


def not_routed(flow: http.HTTPFlow) -> None:
    path = flow.request.path.split("?", 1)[0]
    message = (
        f"ccproxy cannot route {flow.request.method} {path}: no sentinel key "
        "(sk-ant-oat-ccproxy-<provider>) and no provider whose `path` matches. "
        "Send a sentinel key, add a provider with this path to ccproxy.yaml, or add an inspector.transforms rule."
    )
    get_meta(flow).error = message
    body = {"type": "error", "error": {"type": "ccproxy_not_routed", "message": message}}
    flow.response = http.Response.make(501, json.dumps(body), {"content-type": "application/json"})


class Router:
    """Route only (rules come with the transform router); runs between the inbound and outbound DAGs."""

    def __init__(self, config: CCProxyConfig) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if flow.response is not None or meta.extra.get("internal"):
            return
        name, reason = meta.provider, "sentinel"
        if name is None and meta.source == "reverse":
            name, reason = match_provider(self.config, flow.request.path), "path"
        if name is None:
            if meta.source == "reverse":
                not_routed(flow)
            return
        provider = self.config.providers[name]
        meta.provider = name
        path = destination_path(provider, flow.request.path)
        point_at(flow.request, provider, path)
        meta.transform = TransformInfo(
            mode="route", reason=reason, provider=name, to_format=provider.provider, dest_url=flow.request.url
        )
