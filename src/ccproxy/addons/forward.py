"""The forward listener's gate: proxy credential on CONNECT and plain requests; only LLM hosts are decrypted.

mitmproxy's own `proxyauth` addon is not used: it is replaced by an empty stand-in for start-up speed
(`mitm/lean.py`, its ldap3 import), and its option applies to every listener, so it would also ask
reverse-mode clients for a password. This addon checks `Proxy-Authorization` only on the forward
(regular-mode) listener and answers 407 otherwise.

Interception is decided per CONNECT target in `next_layer`: a host that is not an LLM host the
config knows becomes an ignored TCP layer (bytes tunnelled, no flow at all). mitmproxy's global
`ignore_hosts` / `allow_hosts` would also change what the WireGuard jail decrypts.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from mitmproxy import connection, ctx, http
from mitmproxy.proxy import layer, layers

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.forward.credential import REALM, ProxyCredential
from ccproxy.forward.hosts import InterceptHosts
from ccproxy.mitm import answers as errors

log = logging.getLogger("ccproxy.forward")

AUTH_HEADER = "Proxy-Authorization"
#: A hidden flow leaves mitmweb's view once it is over: checked this often, at most this many times.
HIDE_RETRY, HIDE_TRIES = 0.05, 200


def is_forward(client: connection.Client) -> bool:
    return getattr(client.proxy_mode, "type_name", "") == "regular"


def auth_required() -> http.Response:
    message = (
        "ccproxy forward proxy: missing or wrong proxy credential; start the client with "
        "`ccproxy run --proxy -- CMD`, which hands it the proxy URL with the daemon's credential"
    )
    return http.Response.make(
        407,
        errors.error_json(407, message, "ccproxy_proxy_auth_required"),
        {"content-type": "application/json", "proxy-authenticate": f'Basic realm="{REALM}"'},
    )


class ForwardProxy:
    """Early in the chain, so an unauthenticated request is answered before any addon routes it."""

    def __init__(self, config: CCProxyConfig, credential: ProxyCredential | None) -> None:
        self.credential = credential
        self.intercept = InterceptHosts.from_config(config)
        #: Clients whose CONNECT carried the credential: the requests inside their tunnel carry none.
        self.authenticated: weakref.WeakKeyDictionary[connection.Client, bool] = weakref.WeakKeyDictionary()

    def _check(self, flow: http.HTTPFlow) -> bool:
        """Strip the credential from the request; answer 407 when it is missing or wrong."""
        given = flow.request.headers.pop(AUTH_HEADER, None)
        if self.credential is not None and self.credential.accepts(given):
            return True
        flow.response = auth_required()
        log.warning(
            "forward proxy: %s from %s without the daemon's proxy credential: 407",
            flow.request.method,
            flow.client_conn.peername,
        )
        return False

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if is_forward(flow.client_conn) and self._check(flow):
            self.authenticated[flow.client_conn] = True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not is_forward(flow.client_conn) or flow.client_conn in self.authenticated:
            return  # inside an authenticated tunnel: next_layer only decrypted it for an LLM host
        meta = get_meta(flow)
        if not self._check(flow):
            meta.internal = True  # a stranger's request is not traffic to record
            meta.hidden = True
            return
        if not self.intercept.matches(flow.request.host, flow.request.port):
            # Plain-HTTP proxy request to a host that is not an LLM host: forwarded as is, not recorded.
            meta.internal = True
            meta.hidden = True

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        context = nextlayer.context
        client, address = context.client, context.server.address
        if not is_forward(client) or address is None or self.intercept.matches(str(address[0]), int(address[1])):
            return
        # A CONNECT tunnel to a host ccproxy has no business reading: bytes through, no flow.
        nextlayer.layer = layers.TCPLayer(context, ignore=True)

    def response(self, flow: http.HTTPFlow) -> None:
        self._hide(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._hide(flow)

    def _hide(self, flow: http.HTTPFlow) -> None:
        """Drop a passthrough or refused flow from mitmweb's view once the flow is over.

        The view's `remove` kills a live flow, so removal waits (bounded) until mitmproxy has sent the
        response and marked the flow done.
        """
        if get_meta(flow).hidden:
            asyncio.get_running_loop().call_soon(_remove_when_done, flow, HIDE_TRIES)


def _remove_when_done(flow: http.HTTPFlow, tries: int) -> None:
    if flow.live and tries > 0:
        asyncio.get_running_loop().call_later(HIDE_RETRY, _remove_when_done, flow, tries - 1)
        return
    view = ctx.master.addons.get("view")
    if view is not None and not flow.killable and view.get_by_id(flow.id) is not None:
        view.remove([flow])
