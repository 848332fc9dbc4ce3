"""401 from a provider whose credential ccproxy injected: re-resolve, and replay once if it changed.

The 401 is caught in `responseheaders`, before any other addon sees the response: the replay's status and
headers take its place there, so the router and the stream tap handle the replayed answer like any upstream
one. mitmproxy only forwards body bytes as they arrive from the original server connection, which ends with
the 401's short body, so the replay is read whole first: a replayed stream reaches the client complete,
in one piece, rather than event by event. Once the request has left, the injected credential in the flow's
request is masked, so mitmweb's views and exports never hold it (the flow store masks it too).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from mitmproxy import http

from ccproxy.addons import websocket
from ccproxy.addons.replayed import fill_body, swap_in
from ccproxy.auth.apply import apply_credential, mask_credential, sent_credential
from ccproxy.auth.replay import Replayed, make_client, resend
from ccproxy.auth.resolver import CredentialResolver
from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import AuthError
from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.pipeline.services import Services
from ccproxy.store.redact import MASK

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("ccproxy.auth")

RENEWED = {"refreshed": "refreshed at the token endpoint", "reread": "changed at its source", "unchanged": "unchanged"}


def hide_credential(flow: http.HTTPFlow, header: str) -> None:
    """Mask the injected credential: the request has left, and the flow must keep no secret."""
    mask_credential(flow.request, header, MASK)


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "<credential>") if secret else text


class AuthRefresh:
    """First addon to see a response; the client sees only the final answer."""

    def __init__(self, config: CCProxyConfig, services: Services) -> None:
        self.config = config
        self.services = services
        self._client: httpx.AsyncClient | None = None
        self._pending: dict[str, Replayed] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def resolver(self) -> CredentialResolver:
        return self.services.resolver

    def running(self) -> None:
        """Refresh OAuth tokens that are already near expiry, without holding up start-up."""
        task = asyncio.get_running_loop().create_task(self._warm_up())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _warm_up(self) -> None:
        for name, result in (await self.resolver.warm_up()).items():
            if result == "ok":
                log.info("provider %r: OAuth credential ready", name)
            else:
                log.warning("start-up check: %s", result)

    async def done(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _eligible(self, flow: http.HTTPFlow, meta: FlowMeta) -> bool:
        return (
            flow.response is not None
            and flow.response.status_code == 401
            and meta.auth_injected
            and not meta.auth_replayed
            and meta.provider in self.config.providers
            and not flow.request.stream
        )

    async def responseheaders(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        try:
            if self._eligible(flow, meta):
                await self._recover(flow, meta)
        finally:
            self._hide(flow)

    async def _recover(self, flow: http.HTTPFlow, meta: FlowMeta) -> None:
        assert meta.provider is not None and flow.response is not None
        name, short = meta.provider, flow.id[:8]
        header = self.config.providers[name].auth_header
        rejected = sent_credential(flow.request.headers, header) or ""
        story: dict[str, Any] = {"status": 401}
        meta.auth_recovery = story
        log.info("flow %s: provider %r answered 401; re-resolving its credential", short, name)
        try:
            renewal = await self.resolver.renew(name, rejected)
        except AuthError as exc:
            meta.error = str(exc)
            story["error"] = str(exc)
            log.warning("flow %s: %s", short, exc)
            return
        story["renewed"] = renewal.how
        if renewal.how == "unchanged" or renewal.token == rejected:
            log.warning(
                "flow %s: provider %r: credential unchanged after re-resolve; passing the 401 through. "
                "Check providers.%s.auth",
                short, name, name,
            )
            return
        meta.auth_refreshed = True
        apply_credential(flow.request, header, renewal.token)
        if websocket.is_upgrade(flow.request):
            # A replayed handshake could not become the client's socket; its reconnect gets the new credential.
            story["error"] = "a WebSocket handshake is not replayed: the client's next one carries the new credential"
            log.info("flow %s: provider %r: credential %s; WebSocket handshake, 401 passed on", short, name,
                     RENEWED[renewal.how])
            return
        log.info("flow %s: provider %r: credential %s; replaying once", short, name, RENEWED[renewal.how])
        import httpx  # start-up cost; see ccproxy.auth.oauth

        try:
            replayed = await resend(
                self._http(),
                flow.request.method,
                flow.request.url,
                list(flow.request.headers.items(multi=True)),
                flow.request.raw_content or b"",
            )
        except httpx.HTTPError as exc:
            failure = f"provider {name!r}: replay after credential refresh failed: {type(exc).__name__} {exc}"
            meta.error = story["error"] = redact(failure, renewal.token)
            log.warning("flow %s: %s", short, meta.error)
            return
        meta.auth_replayed = True
        story["replay_status"] = replayed.status_code
        log.info("flow %s: provider %r: replay answered %d", short, name, replayed.status_code)
        self._swap(flow, meta, replayed)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.config.inspector.upstream_ca)
        return self._client

    def _swap(self, flow: http.HTTPFlow, meta: FlowMeta, replayed: Replayed) -> None:
        """The replay's status and headers replace the 401's; its body follows (stream or `response`)."""
        self._pending[flow.id] = replayed
        swap_in(flow, meta, replayed, lambda: self._pending.pop(flow.id, None))

    def response(self, flow: http.HTTPFlow) -> None:
        """The 401's body was consumed into the response; put the replayed body in its place."""
        replayed = self._pending.pop(flow.id, None)
        if replayed is not None:
            fill_body(flow, get_meta(flow), replayed)
        self._hide(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._pending.pop(flow.id, None)
        self._hide(flow)

    def _hide(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.auth_injected and meta.provider in self.config.providers:
            hide_credential(flow, self.config.providers[meta.provider].auth_header)
