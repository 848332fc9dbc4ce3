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
from dataclasses import asdict
from typing import TYPE_CHECKING

from mitmproxy import http
from mitmproxy.net.http import status_codes

from ccproxy.addons import client_stream, websocket
from ccproxy.addons.destination import (
    client_key,
    destination_path,
    first_rule,
    match_provider,
    parse_dest_host,
    point_at,
    point_at_provider,
    request_model,
    retarget_headers,
    set_body_model,
)
from ccproxy.addons.replayed import replace_whole
from ccproxy.auth.apply import apply_credential, strip_client_keys
from ccproxy.auth.replay import make_client, resend
from ccproxy.config.model import CCProxyConfig, TransformRule
from ccproxy.config.providers import ProviderConfig
from ccproxy.errors import AuthError
from ccproxy.flowmeta import FlowMeta, TransformInfo, get_meta
from ccproxy.mitm import answers as errors
from ccproxy.pipeline.services import Services
from ccproxy.wire.endpoints import Endpoint, main_endpoint, provider_path
from ccproxy.wire.neutral import ApiError, ClientOptions
from ccproxy.wire.refusal import RefusedParams, added_parameters, refused_parameter, without
from ccproxy.wire.translate import (
    StreamTranslator,
    TranslationError,
    error_response,
    translate_error,
    translate_request,
    translate_response,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("ccproxy.router")


class Router:
    """Between the inbound and outbound DAGs; the response side translates answers back."""

    def __init__(self, config: CCProxyConfig, services: Services) -> None:
        self.config = config
        self.services = services
        self.refused = RefusedParams()  # parameters a provider/model refused once (see retry_refused)
        self._http: httpx.AsyncClient | None = None

    async def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if flow.response is not None or meta.internal or meta.transform is not None:
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
        translatable = provider is not None and endpoint is not None and endpoint.format != provider.provider
        if rule.action == "transform" and translatable:
            assert provider is not None and endpoint is not None
            await self.transform(flow, meta, endpoint, name or "", provider, reason, index, rule)
            return
        if rule.action == "transform" and endpoint is None:
            path = flow.request.path.split("?")[0]
            meta.warnings.append(
                f"{reason}: {path} is no main endpoint, so nothing to translate; redirected as is"
            )
        await self.redirect(flow, meta, endpoint, name, provider, reason, index, rule)
        if rule.action == "transform" and meta.transform is not None:
            meta.transform.mode = "transform"  # same format on both sides: a redirect is all it takes

    async def route(
        self, flow: http.HTTPFlow, meta: FlowMeta, endpoint: Endpoint | None, auto_transform: bool = True
    ) -> None:
        """No rule: the sentinel's provider, else a provider whose path matches, else 501 / original host."""
        name, reason = meta.provider, "sentinel"
        if name is None and meta.source == "reverse":
            name, reason = match_provider(self.config, flow.request.path), "path"
        if name is None or name not in self.config.providers:
            if meta.source == "reverse":
                errors.not_routed(flow)
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
        """Put the destination's credential in; False (and an error answer) when it cannot be had.

        Call before `meta.provider` names the destination: until then it names whose credential
        inject_auth put in (if any), and that one must never travel to another provider.
        """
        if provider is None or name is None or (meta.auth_injected and meta.provider == name):
            return True
        req = flow.request
        # gemini-cli's Google login is for Code Assist only: it never travels to another provider
        google_login = meta.transform is not None and meta.transform.from_format == "code_assist"
        own = None if meta.auth_injected or google_login else client_key(req.headers)
        strip_client_keys(req)  # the first provider's credential never reaches this one, even on an error
        if provider.auth is None:
            if own:
                apply_credential(req, provider.auth_header, own)
            elif meta.auth_injected:
                meta.warnings.append(
                    f"provider {name!r} has no auth; the sentinel provider's credential was not sent"
                )
            return True
        try:
            apply_credential(req, provider.auth_header, await self.services.resolver.resolve(name))
        except AuthError as exc:
            errors.answer_local(flow, exc)
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
            _, sep, query = path.partition("?")
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
        if await self.credential(flow, meta, name, provider):
            meta.provider = name or meta.provider

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
        if websocket.is_upgrade(req):
            websocket.refuse_upgrade(flow, name, client, dest, reason)  # a socket cannot be translated
            return
        query = req.path.partition("?")[2]
        try:
            out = translate_request(
                req.get_content(strict=False) or b"",
                client,
                dest,
                path_model=endpoint.model,
                path_stream=endpoint.streaming_path,
                path_sse="alt=sse" in query,
                model=rule.dest_model if rule else None,
            )
        except TranslationError as exc:
            message = f"ccproxy could not read this {client} request to translate it for {name}: {exc}"
            errors.answer_in_format(flow, client, ApiError("invalid_request", message, 400))
            return
        stream = out.request.stream
        template = rule.dest_path if rule and rule.dest_path else provider.path
        method = "streamGenerateContent" if stream else "generateContent"
        path = provider_path(template, Endpoint(dest, out.request.model, method))
        if dest == "gemini" and stream:
            path += "?alt=sse"
        out.warnings.extend(self.refused.strip(name, out.request.model, out.body))
        if client != dest:
            retarget_headers(req.headers, client, dest)
            req.content = json.dumps(out.body, ensure_ascii=False).encode()
        if rule is not None and rule.dest_host:
            scheme, host, port = parse_dest_host(rule.dest_host, provider.scheme)
            point_at(req, scheme, host, port, path)
        else:
            point_at_provider(req, provider, path)
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
        if await self.credential(flow, meta, name, provider):
            meta.provider = name

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

    async def response(self, flow: http.HTTPFlow) -> None:
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
        if response.status_code >= 400 and await self.retry_refused(flow, meta, info):
            response = flow.response
            assert response is not None
        raw = response.get_content(strict=False) or b""
        status = response.status_code
        options = ClientOptions(**info.client_options)
        try:
            if status < 400 and "text/event-stream" in response.headers.get("content-type", "").lower():
                # A retried stream arrives whole: it goes through the stream translator in one piece.
                translator = StreamTranslator(info.to_format, info.from_format, options)
                response.content = translator(raw) + translator(b"")
                meta.warnings.extend(translator.warnings)
                response.headers.pop("content-encoding", None)
                return
            if status >= 400:
                status, doc = translate_error(status, raw, info.to_format, info.from_format)
            else:
                doc, _ = translate_response(raw, info.to_format, info.from_format, options, meta.warnings)
        except TranslationError as exc:
            message = f"ccproxy could not translate the {info.to_format} answer for this {info.from_format} client: {exc}"
            status, doc = error_response(ApiError("server", message, 502), info.from_format)
            meta.error = message
        response.status_code = status
        response.reason = status_codes.RESPONSES.get(status, "")
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

    async def retry_refused(self, flow: http.HTTPFlow, meta: FlowMeta, info: TransformInfo) -> bool:
        """A 400 refusing a parameter the translation added: remember it, send once more without it.

        Nothing has reached the client yet (the 400 is whole and not streamed). The flow records the
        retried request and its answer; every later request to this provider/model leaves the key out.
        """
        response, name, model = flow.response, info.provider, info.model or ""
        if response is None or name not in self.config.providers or meta.param_retry is not None:
            return False
        try:
            body = json.loads(flow.request.get_content(strict=False) or b"")
        except ValueError:
            return False
        sent = added_parameters(info.to_format or "", body) if isinstance(body, dict) else ()
        key = refused_parameter(response.status_code, response.get_content(strict=False) or b"", sent)
        if key is None:
            return False
        assert name is not None
        meta.param_retry = key
        self.refused.learn(name, model, key)
        retry = flow.request.copy()
        retry.content = without(flow.request.get_content(strict=False) or b"", key)
        provider = self.config.providers[name]
        if meta.auth_injected and provider.auth is not None:
            try:  # the request in the flow already has its credential masked
                apply_credential(retry, provider.auth_header, await self.services.resolver.resolve(name))
            except AuthError:
                return False
        import httpx  # start-up cost; see ccproxy.auth.oauth

        try:
            replayed = await resend(
                self.http(), retry.method, retry.url, list(retry.headers.items(multi=True)), retry.raw_content or b""
            )
        except httpx.HTTPError as exc:
            meta.warnings.append(f"retry without {key} failed: {type(exc).__name__} {exc}")
            return False
        meta.warnings.append(
            f"provider {name!r} refused {key} for model {model!r}; sent again without it "
            "(and left out from now on)"
        )
        flow.request.content = retry.content
        replace_whole(flow, replayed)
        return True

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = make_client(self.config.inspector.upstream_ca)
        return self._http

    async def done(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
