"""Where a request goes: rule matching, destination parsing and the headers a new format needs."""

from __future__ import annotations

import json
import re
from typing import Any

from mitmproxy import http

from ccproxy.auth.sentinel import KEY_HEADERS, contains_sentinel
from ccproxy.config.model import CCProxyConfig, TransformRule
from ccproxy.config.providers import ProviderConfig
from ccproxy.wire.endpoints import Endpoint, main_endpoint, path_matches, provider_path

#: Headers that belong to one wire format's SDK; they do not follow a body into another format.
FORMAT_HEADER_PREFIXES = ("anthropic-", "openai-", "x-goog-")
ANTHROPIC_VERSION = "2023-06-01"


def parse_dest_host(dest_host: str, default_scheme: str) -> tuple[str, str, int]:
    """`host`, `host:port` or `scheme://host[:port]` -> (scheme, host, port)."""
    scheme, sep, rest = dest_host.partition("://")
    if not sep:
        scheme, rest = default_scheme, dest_host
    host, colon, port = rest.rstrip("/").rpartition(":")
    if colon and port.isdigit():
        return scheme, host, int(port)
    return scheme, rest.rstrip("/"), 443 if scheme == "https" else 80


def flow_hosts(flow: http.HTTPFlow) -> list[str]:
    """What `match_host` is tried against: the pretty host, the Host header and X-Forwarded-Host."""
    req = flow.request
    hosts = [req.pretty_host, req.headers.get("host", ""), req.headers.get("x-forwarded-host", "")]
    return [h for h in hosts if h]


def request_model(request: http.Request, endpoint: Endpoint | None) -> str | None:
    if endpoint is not None and endpoint.model:
        return endpoint.model
    try:
        body = json.loads(request.get_content(strict=False) or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return str(model) if model is not None else None


def rule_matches(rule: TransformRule, hosts: list[str], path: str, model: str | None) -> bool:
    """Every given field must match (`re.search`; anchor with ^...$ for an exact match)."""
    if rule.match_host is not None and not any(re.search(rule.match_host, h) for h in hosts):
        return False
    if not re.search(rule.match_path, path):
        return False
    return rule.match_model is None or (model is not None and re.search(rule.match_model, model) is not None)


def first_rule(flow: http.HTTPFlow, rules: list[TransformRule], endpoint: Endpoint | None) -> int | None:
    if not rules:
        return None
    hosts, path = flow_hosts(flow), flow.request.path.split("?", 1)[0]
    model = request_model(flow.request, endpoint) if any(r.match_model for r in rules) else None
    return next((i for i, rule in enumerate(rules) if rule_matches(rule, hosts, path, model)), None)


def retarget_headers(headers: Any, client_format: str, dest_format: str) -> None:
    """A translated body travels with the destination format's headers, not the client SDK's."""
    for name in list(headers.keys()):
        if name.lower().startswith(FORMAT_HEADER_PREFIXES) and name.lower() not in KEY_HEADERS:
            del headers[name]
    headers.pop("content-encoding", None)  # the new body is written plain
    headers["content-type"] = "application/json"
    headers["accept-encoding"] = "identity"  # streamed chunks must arrive as plain SSE text
    if dest_format == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION


def client_key(headers: Any) -> str | None:
    """The client's own key (not a sentinel), to move into another format's header."""
    for name in KEY_HEADERS:
        value = headers.get(name)
        if value and not contains_sentinel(value):
            return str(value).removeprefix("Bearer ").removeprefix("bearer ")
    return None


def set_body_model(request: http.Request, model: str) -> None:
    try:
        body = json.loads(request.get_content(strict=False) or b"")
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(body, dict):
        body["model"] = model
        request.content = json.dumps(body, ensure_ascii=False).encode()


def destination_path(provider: ProviderConfig, path: str) -> str:
    """The provider's `path` for its format's main endpoint; any other path is kept as is."""
    bare, sep, query = path.partition("?")
    hit = main_endpoint(bare)
    if hit is None or hit.format != provider.provider:
        return path
    return provider_path(provider.path, hit) + sep + query


def point_at(request: http.Request, scheme: str, host: str, port: int, path: str) -> None:
    request.scheme, request.host, request.port, request.path = scheme, host, port, path
    default_port = 443 if scheme == "https" else 80
    request.headers["host"] = host if port == default_port else f"{host}:{port}"


def point_at_provider(request: http.Request, provider: ProviderConfig, path: str) -> None:
    point_at(request, provider.scheme, provider.hostname, provider.port, path)


def match_provider(config: CCProxyConfig, path: str) -> str | None:
    for name, provider in config.providers.items():
        if path_matches(provider.path, path):
            return name
    return None
