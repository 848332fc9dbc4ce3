"""Capacity fallback: a provider with no capacity (429/503/529) is retried, then other models are tried.

Armed per flow by the `capacity_fallback` outbound hook (its params are the policy). Acts in
`responseheaders`, like the 401 replay and with the same machinery (`auth/replay.resend`,
`addons/replayed`): no byte of the refused answer has reached the client, so ccproxy can ask again
and hand the client only the answer that finally came, streams included (read whole, then sent).
Nothing happens once a byte went out. Each attempt is one log line and one entry of
`.ccproxy.extra.capacity.attempts`; a model of another provider gets the client's request
translated for it, and the answer is translated back by the router as for any transform.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from mitmproxy import http
from mitmproxy.net import encoding

from ccproxy.addons import websocket
from ccproxy.addons.destination import request_model, retarget_headers, set_body_model
from ccproxy.addons.replayed import fill_body, swap_in
from ccproxy.auth.apply import apply_credential, strip_client_keys
from ccproxy.auth.replay import Replayed, make_client, resend
from ccproxy.auth.sentinel import contains_sentinel
from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import AuthError
from ccproxy.flowmeta import FlowMeta, TransformInfo, get_meta
from ccproxy.pipeline.services import Services
from ccproxy.wire import capacity
from ccproxy.wire.endpoints import Endpoint, main_endpoint, provider_path
from ccproxy.wire.translate import TranslationError, translate_request

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("ccproxy.capacity")


def policy_of(doc: dict[str, Any]) -> capacity.Policy:
    raw = dict(doc)
    raw["fallback_models"] = tuple(raw.get("fallback_models") or ())
    return capacity.Policy(**raw)


def body_of(replayed: Replayed) -> bytes:
    """The answer's body without its content-encoding (a capacity error is read for its delay)."""
    coding = replayed.header("content-encoding")
    try:
        body = encoding.decode(replayed.body, coding) if coding else replayed.body
    except ValueError:
        return b""
    return body if isinstance(body, bytes) else body.encode()


class CapacityFallback:
    """Response side only; placed right after the 401 replay so every addon below sees the final answer."""

    def __init__(self, config: CCProxyConfig, services: Services) -> None:
        self.config = config
        self.services = services
        self._client: httpx.AsyncClient | None = None
        self._pending: dict[str, Replayed] = {}

    async def done(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _eligible(self, flow: http.HTTPFlow, meta: FlowMeta) -> bool:
        story = meta.capacity
        return (
            flow.response is not None
            and flow.response.status_code in capacity.CAPACITY_STATUSES
            and isinstance(story, dict)
            and "policy" in story
            and not story.get("attempts")
            and meta.transform is not None
            and not flow.request.stream
            and not websocket.is_upgrade(flow.request)
        )

    async def responseheaders(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if self._eligible(flow, meta):
            await self._walk(flow, meta)

    def response(self, flow: http.HTTPFlow) -> None:
        replayed = self._pending.pop(flow.id, None)
        if replayed is not None:
            fill_body(flow, get_meta(flow), replayed)

    def error(self, flow: http.HTTPFlow) -> None:
        self._pending.pop(flow.id, None)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.config.inspector.upstream_ca)
        return self._client

    async def _walk(self, flow: http.HTTPFlow, meta: FlowMeta) -> None:
        assert flow.response is not None and meta.capacity is not None
        story, short = meta.capacity, flow.id[:8]
        policy = policy_of(story["policy"])
        model = request_model(flow.request, main_endpoint(flow.request.path)) or ""
        retry_after = flow.response.headers.get("retry-after")
        last = capacity.Signal(flow.response.status_code, str(flow.response.status_code),
                               capacity.header_delay(retry_after))
        attempts: list[dict[str, Any]] = story.setdefault("attempts", [])
        self._note(short, attempts, meta.provider or flow.request.pretty_host, model, last, 0.0)
        started, answer, answered = time.monotonic(), None, None
        for candidate, sticky in capacity.candidates(policy, model):
            decision = capacity.decide(policy, sticky, last.delay, time.monotonic() - started)
            if decision.step != "retry":
                log.info("flow %s: capacity fallback: %s %r: %s", short,
                         "stopping before" if decision.step == "stop" else "skipping", candidate, decision.why)
                if decision.step == "stop":
                    story["stopped"] = decision.why
                    break
                continue
            if decision.wait:
                await asyncio.sleep(decision.wait)
            attempt = await self._attempt(flow, meta, candidate)
            if attempt is None:
                continue
            replayed, target = attempt
            last = capacity.signal(replayed.status_code, replayed.header("retry-after"), body_of(replayed)) or \
                capacity.Signal(replayed.status_code, "answered", None)
            where = target.provider or flow.request.pretty_host
            self._note(short, attempts, where, target.model or "", last, decision.wait)
            answer = (replayed, target)
            if replayed.status_code not in capacity.CAPACITY_STATUSES:
                answered = target
                break
        if answer is None:
            return
        if answered is not None:
            story["answered_by"] = f"{answered.provider or flow.request.pretty_host}/{answered.model}"
        replayed, target = answer
        meta.transform, meta.provider = target, target.provider
        self._pending[flow.id] = replayed
        swap_in(flow, meta, replayed, lambda: self._pending.pop(flow.id, None))

    @staticmethod
    def _note(short: str, attempts: list[dict[str, Any]], provider: str, model: str,
              sig: capacity.Signal, waited: float) -> None:
        attempts.append({"n": len(attempts) + 1, "provider": provider, "model": model, "status": sig.status,
                         "reason": sig.reason, "retry_delay": sig.delay, "waited": waited})
        log.info("flow %s: capacity fallback: attempt %d: %s/%s answered %d %s%s", short, len(attempts),
                 provider, model, sig.status, sig.reason,
                 f" (asks to wait {sig.delay:g}s)" if sig.delay is not None else "")

    async def _attempt(
        self, flow: http.HTTPFlow, meta: FlowMeta, candidate: str
    ) -> tuple[Replayed, TransformInfo] | None:
        """Send the request for one candidate; None when it cannot be built (logged, and skipped)."""
        import httpx  # start-up cost; see ccproxy.auth.oauth

        assert meta.transform is not None
        name, model = capacity.split_candidate(candidate, list(self.config.providers), meta.provider)
        try:
            req, target = await self._request_for(flow, meta, name, model)
        except (TranslationError, AuthError) as exc:
            log.warning("flow %s: capacity fallback: %r skipped: %s", flow.id[:8], candidate, exc)
            return None
        if any(contains_sentinel(v) for _, v in req.headers.items(multi=True)) or contains_sentinel(
            (req.content or b"").decode("utf-8", "replace")
        ):
            log.warning("flow %s: capacity fallback: %r skipped: a sentinel key is in it", flow.id[:8], candidate)
            return None
        try:
            replayed = await resend(self._http(), req.method, req.url, list(req.headers.items(multi=True)),
                                    req.content or b"")
        except httpx.HTTPError as exc:
            log.warning("flow %s: capacity fallback: %r failed: %s %s", flow.id[:8], candidate, type(exc).__name__, exc)
            return None
        return replayed, target

    async def _request_for(
        self, flow: http.HTTPFlow, meta: FlowMeta, name: str | None, model: str
    ) -> tuple[http.Request, TransformInfo]:
        """The forwarded request with another model (same destination), or the client's translated for another.

        `name` None: the flow's own destination, no configured provider (gemini-cli's own Code
        Assist calls, say), with the client's own credential."""
        info = meta.transform
        assert info is not None
        req = flow.request.copy()
        if name == meta.provider:
            provider = self.config.providers.get(name) if name else None
            if meta.auth_injected and name and provider is not None and provider.auth is not None:
                # the 401 addon masked the injected credential once the request had left
                apply_credential(req, provider.auth_header, await self.services.resolver.resolve(name))
            endpoint = main_endpoint(req.path)
            if endpoint is not None and endpoint.format == "gemini" and endpoint.model:
                req.path = req.path.replace(f"/models/{endpoint.model}:", f"/models/{model}:", 1)
            else:
                set_body_model(req, model)
            return req, replace(info, model=model, dest_url=req.url)
        assert name is not None
        provider = self.config.providers[name]
        client = meta.client_request
        client_path = "/" + (client.url.split("://", 1)[-1].partition("/")[2] if client else req.path)
        origin = main_endpoint(client_path)
        if origin is None:
            raise TranslationError(f"{client_path.split('?')[0]} is no main endpoint of a known format")
        dest = provider.provider
        out = translate_request(
            client.body if client else req.content or b"", origin.format, dest,
            path_model=origin.model, path_stream=origin.streaming_path,
            path_sse="alt=sse" in client_path.partition("?")[2], model=model,
        )
        stream = out.request.stream
        path = provider_path(provider.path, Endpoint(dest, model, "streamGenerateContent" if stream else "generateContent"))
        if dest == "gemini" and stream:
            path += "?alt=sse"
        req.scheme, req.host, req.port, req.path = provider.scheme, provider.hostname, provider.port, path
        default_port = 443 if provider.scheme == "https" else 80
        req.headers["host"] = provider.hostname if provider.port == default_port else f"{provider.hostname}:{provider.port}"
        retarget_headers(req.headers, origin.format, dest)
        req.content = json.dumps(out.body, ensure_ascii=False).encode()
        strip_client_keys(req)
        if provider.auth is not None:
            apply_credential(req, provider.auth_header, await self.services.resolver.resolve(name))
        options = {k: v for k, v in asdict(out.options).items() if k != "created"}
        target = TransformInfo(
            mode="transform", reason=f"capacity fallback ({info.reason})", provider=name, rule=info.rule,
            from_format=origin.format, to_format=dest, model=model, dest_url=req.url, stream=stream,
            client_options=options,
        )
        return req, target
