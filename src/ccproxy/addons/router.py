"""The transform router: where each flow goes, and in which wire format.

Decisions, first that applies: an `inspector.transforms` rule (passthrough | redirect | transform),
else the sentinel key's provider (translated automatically when its wire format differs from the
endpoint the client called), else a provider whose `path` matches, else 501 in reverse mode or the
original destination for jailed (WireGuard) flows. The translation itself lives in `ccproxy.wire`;
this addon only reads the flow, calls it, and writes the result back.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from typing import Any

from mitmproxy import http

from ccproxy.addons import client_stream
from ccproxy.auth.apply import set_credential, strip_client_keys
from ccproxy.auth.sentinel import KEY_HEADERS, contains_sentinel
from ccproxy.config.model import CCProxyConfig, ProviderConfig, TransformRule
from ccproxy.errors import AuthError
from ccproxy.flows.meta import FlowMeta, TransformInfo, get_meta
from ccproxy.wire.endpoints import Endpoint, main_endpoint, path_matches, provider_path
from ccproxy.wire.neutral import ApiError, ClientOptions
from ccproxy.wire.translate import (
    StreamTranslator,
    TranslationError,
    error_response,
    translate_error,
    translate_request,
    translate_response,
)

log = logging.getLogger("ccproxy.router")

#: Headers that belong to one wire format's SDK; they do not follow a body into another format.
FORMAT_HEADER_PREFIXES = ("anthropic-", "openai-", "x-goog-")
ANTHROPIC_VERSION = "2023-06-01"


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


def parse_dest_host(dest_host: str, default_scheme: str) -> tuple[str, str, int]:
    """`host`, `host:port` or `scheme://host[:port]` -> (scheme, host, port)."""
    scheme, sep, rest = dest_host.partition("://")
    if not sep:
        scheme, rest = default_scheme, dest_host
    host, colon, port = rest.rstrip("/").rpartition(":")
    if colon and port.isdigit():
        return scheme, host, int(port)
    return scheme, rest.rstrip("/"), 443 if scheme == "https" else 80


def match_provider(config: CCProxyConfig, path: str) -> str | None:
    for name, provider in config.providers.items():
        if path_matches(provider.path, path):
            return name
    return None


def flow_hosts(flow: http.HTTPFlow) -> list[str]:
    """What `match_host` is tried against: the pretty host, the Host header and X-Forwarded-Host."""
    req = flow.request
    hosts = [req.pretty_host, req.headers.get("host", ""), req.headers.get("x-forwarded-host", "")]
    return [h for h in hosts if h]


def request_model(request: http.Request, endpoint: Endpoint | None) -> str | None:
    if endpoint is not None and endpoint.model:
        return endpoint.model
    try:
        body = json.loads(request.raw_content or b"")
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


def answer_error(flow: http.HTTPFlow, client_format: str | None, error: ApiError) -> None:
    """ccproxy answers the client itself, in the client's format (Anthropic's when unknown)."""
    status, body = error_response(error, client_format or "anthropic")
    get_meta(flow).error = error.message
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": "application/json"})


def not_routed(flow: http.HTTPFlow, client_format: str | None = None) -> None:
    path = flow.request.path.split("?", 1)[0]
    message = (
        f"ccproxy cannot route {flow.request.method} {path}: no sentinel key "
        "(sk-ant-oat-ccproxy-<provider>) and no provider whose `path` matches. "
        "Send a sentinel key, add a provider with this path to ccproxy.yaml, or add an inspector.transforms rule."
    )
    if client_format is None:
        get_meta(flow).error = message
        body = {"type": "error", "error": {"type": "ccproxy_not_routed", "message": message}}
        flow.response = http.Response.make(501, json.dumps(body), {"content-type": "application/json"})
    else:
        answer_error(flow, client_format, ApiError("not_found", message, 501))


def retarget_headers(headers: Any, client_format: str, dest_format: str) -> None:
    """A translated body travels with the destination format's headers, not the client SDK's."""
    for name in list(headers.keys()):
        if name.lower().startswith(FORMAT_HEADER_PREFIXES) and name.lower() not in KEY_HEADERS:
            del headers[name]
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


class Router:
    """Between the inbound and outbound DAGs; the response side translates answers back."""

    def __init__(self, config: CCProxyConfig, services: dict[str, Any] | None = None) -> None:
        self.config = config
        self.services = services or {}

    async def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if flow.response is not None or meta.extra.get("internal") or meta.transform is not None:
            return  # answered already, ccproxy's own endpoint, or a replay that was routed once
        endpoint = main_endpoint(flow.request.path)
        index = first_rule(flow, self.config.inspector.transforms, endpoint)
        if index is None:
            await self.route(flow, meta, endpoint)
            return
        rule = self.config.inspector.transforms[index]
        reason = f"rule[{index}]"
        if rule.action == "passthrough":
            await self.route(flow, meta, endpoint, auto_transform=False)
            info = meta.transform or TransformInfo(
                mode="passthrough", reason=reason, dest_url=flow.request.url
            )
            meta.transform = TransformInfo(
                **{**asdict(info), "mode": "passthrough", "reason": reason, "rule": index}
            )
            return
        name = rule.dest_provider or meta.provider
        provider = self.config.providers.get(name) if name else None
        if rule.action == "transform" and provider is not None and endpoint is not None:
            await self.transform(flow, meta, endpoint, name or "", provider, reason, index, rule)
        else:
            if rule.action == "transform":
                meta.warnings.append(
                    f"{reason}: {flow.request.path.split('?')[0]} is no main endpoint; redirected as is"
                )
            await self.redirect(flow, meta, endpoint, name, provider, reason, index, rule)

    async def route(
        self, flow: http.HTTPFlow, meta: FlowMeta, endpoint: Endpoint | None, auto_transform: bool = True
    ) -> None:
        """No rule: the sentinel's provider, else a provider whose path matches, else 501 / original host."""
        name, reason = meta.provider, "sentinel"
        if name is None and meta.source == "reverse":
            name, reason = match_provider(self.config, flow.request.path), "path"
        if name is None or name not in self.config.providers:
            if meta.source == "reverse":
                not_routed(flow, endpoint.format if endpoint else None)
            else:
                meta.transform = TransformInfo(
                    mode="passthrough", reason="original", dest_url=flow.request.url
                )
            return
        provider = self.config.providers[name]
        if auto_transform and endpoint is not None and endpoint.format != provider.provider:
            await self.transform(flow, meta, endpoint, name, provider, reason, None, None)
            return
        meta.provider = name
        point_at_provider(flow.request, provider, destination_path(provider, flow.request.path))
        fmt = endpoint.format if endpoint else None
        meta.transform = TransformInfo(
            mode="route",
            reason=reason,
            provider=name,
            from_format=fmt,
            to_format=provider.provider,
            dest_url=flow.request.url,
        )

    async def credential(
        self, flow: http.HTTPFlow, meta: FlowMeta, name: str | None, provider: ProviderConfig | None
    ) -> bool:
        """Put the destination's credential in; False (and an error answer) when it cannot be had."""
        if provider is None or name is None or (meta.auth_injected and meta.provider == name):
            return True
        req = flow.request
        path, _, query = req.path.partition("?")
        own = None if meta.auth_injected else client_key(req.headers)
        cleaned = strip_client_keys(req.headers, query)
        req.path = f"{path}?{cleaned}" if cleaned else path
        if provider.auth is None:
            if own:
                set_credential(req.headers, provider.auth_header, own)
            return True
        resolver = self.services.get("resolver")
        if resolver is None:
            return True
        try:
            set_credential(req.headers, provider.auth_header, await resolver.resolve(name))
        except AuthError as exc:
            answer_error(
                flow,
                meta.transform.from_format if meta.transform else None,
                ApiError("authentication", str(exc), 502),
            )
            return False
        meta.auth_injected = True
        return True

    async def redirect(
        self,
        flow: http.HTTPFlow,
        meta: FlowMeta,
        endpoint: Endpoint | None,
        name: str | None,
        provider: ProviderConfig | None,
        reason: str,
        index: int,
        rule: TransformRule,
    ) -> None:
        """New destination and credential; the body keeps its format (only `dest_model` may change)."""
        req = flow.request
        path = req.path
        if rule.dest_path:
            bare, sep, query = path.partition("?")
            path = provider_path(rule.dest_path, endpoint or Endpoint("")) + sep + query
        elif provider is not None:
            path = destination_path(provider, path)
        model = request_model(req, endpoint)
        if rule.dest_model:
            model = rule.dest_model
            if endpoint is not None and endpoint.format == "gemini" and endpoint.model:
                path = path.replace(f"/models/{endpoint.model}:", f"/models/{rule.dest_model}:", 1)
            else:
                set_body_model(req, rule.dest_model)
        if rule.dest_host:
            scheme, host, port = parse_dest_host(rule.dest_host, provider.scheme if provider else "https")
            point_at(req, scheme, host, port, path)
        elif provider is not None:
            point_at_provider(req, provider, path)
        meta.provider = name or meta.provider
        fmt = endpoint.format if endpoint else None
        meta.transform = TransformInfo(
            mode="redirect",
            reason=reason,
            provider=name,
            rule=index,
            from_format=fmt,
            to_format=provider.provider if provider else fmt,
            model=model,
            dest_url=req.url,
        )
        await self.credential(flow, meta, name, provider)

    async def transform(
        self,
        flow: http.HTTPFlow,
        meta: FlowMeta,
        endpoint: Endpoint,
        name: str,
        provider: ProviderConfig,
        reason: str,
        index: int | None,
        rule: TransformRule | None,
    ) -> None:
        """New destination and credential, and the body written in the destination's wire format."""
        req = flow.request
        client, dest = endpoint.format, provider.provider
        query = req.path.partition("?")[2]
        try:
            out = translate_request(
                req.raw_content or b"",
                client,
                dest,
                path_model=endpoint.model,
                path_stream=endpoint.streaming_path,
                path_sse="alt=sse" in query,
                model=rule.dest_model if rule else None,
            )
        except TranslationError as exc:
            message = f"ccproxy could not read this {client} request to translate it for {name}: {exc}"
            answer_error(flow, client, ApiError("invalid_request", message, 400))
            return
        stream = out.request.stream
        template = rule.dest_path if rule and rule.dest_path else provider.path
        method = "streamGenerateContent" if stream else "generateContent"
        path = provider_path(template, Endpoint(dest, out.request.model, method))
        if dest == "gemini" and stream:
            path += "?alt=sse"
        if client != dest:
            retarget_headers(req.headers, client, dest)
            req.content = json.dumps(out.body, ensure_ascii=False).encode()
        if rule is not None and rule.dest_host:
            scheme, host, port = parse_dest_host(rule.dest_host, provider.scheme)
            point_at(req, scheme, host, port, path)
        else:
            point_at_provider(req, provider, path)
        meta.provider = name
        meta.warnings.extend(out.warnings)
        options = {k: v for k, v in asdict(out.options).items() if k != "created"}
        meta.transform = TransformInfo(
            mode="transform",
            reason=reason,
            provider=name,
            rule=index,
            from_format=client,
            to_format=dest,
            model=out.request.model,
            dest_url=req.url,
            stream=stream,
            client_options=options,
        )
        await self.credential(flow, meta, name, provider)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """A streamed answer gets an incremental translator; its headers become the client format's."""
        meta, response = get_meta(flow), flow.response
        info = meta.transform
        if info is None or not info.translates or response is None or response.status_code >= 400:
            return
        if "text/event-stream" not in response.headers.get("content-type", "").lower():
            return
        assert info.to_format is not None and info.from_format is not None
        translator = StreamTranslator(info.to_format, info.from_format, ClientOptions(**info.client_options))
        meta.stream_filters.append(translator)
        client_stream.prepare_headers(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        """A whole (non-streamed) answer or error, translated back into the client's format."""
        meta, response = get_meta(flow), flow.response
        info = meta.transform
        if info is None or not info.translates or response is None:
            return
        assert info.to_format is not None and info.from_format is not None
        if response.stream:
            for fn in meta.stream_filters:
                if isinstance(fn, StreamTranslator):
                    meta.warnings.extend(fn.warnings)
            return
        raw = response.get_content(strict=False) or b""
        status = response.status_code
        try:
            if status >= 400:
                status, doc = translate_error(status, raw, info.to_format, info.from_format)
            else:
                doc, _ = translate_response(
                    raw, info.to_format, info.from_format, ClientOptions(**info.client_options), meta.warnings
                )
        except TranslationError as exc:
            message = f"ccproxy could not translate the {info.to_format} answer for this {info.from_format} client: {exc}"
            status, doc = error_response(ApiError("server", message, 502), info.from_format)
            meta.error = message
        response.status_code = status
        response.reason = http.status_codes.RESPONSES.get(status, "")
        response.headers.pop("content-encoding", None)
        response.headers["content-type"] = "application/json"
        response.content = json.dumps(doc, ensure_ascii=False).encode()

    def error(self, flow: http.HTTPFlow) -> None:
        """The upstream broke mid-stream: the client still gets its format's error event."""
        meta = get_meta(flow)
        if meta.transform is None or not meta.transform.translates:
            return
        reason = flow.error.msg if flow.error else "connection lost"
        for fn in meta.stream_filters:
            if isinstance(fn, StreamTranslator):
                meta.warnings.extend(fn.warnings)
                client_stream.send_final(flow, fn.cut(reason))


def set_body_model(request: http.Request, model: str) -> None:
    try:
        body = json.loads(request.raw_content or b"")
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(body, dict):
        body["model"] = model
        request.content = json.dumps(body, ensure_ascii=False).encode()
