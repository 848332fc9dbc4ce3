"""Clients from other machines must prove they may spend the owner's credentials.

The reverse listener adds real provider credentials to whatever reaches it. On loopback (the
default) that is this machine's users only; with `host: 0.0.0.0` and `allow_remote: true` it is a
network. Then a client whose address is not loopback must send the daemon's remote token in
`x-ccproxy-token` (SDKs: `default_headers`, Claude Code: `ANTHROPIC_CUSTOM_HEADERS`, curl: `-H`);
without it the request is answered 401 and never forwarded. The header is an `x-ccproxy-*` one, so
the egress sanitizer strips it before anything leaves. Jailed (WireGuard) and forward-proxy flows
have their own gate and are not checked here.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from mitmproxy import http

from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors

log = logging.getLogger("ccproxy.remote")

TOKEN_HEADER = "x-ccproxy-token"
ERROR_TYPE = "ccproxy_remote_auth_error"


def is_loopback_peer(peer: tuple[str, int] | None) -> bool:
    """The client's address is this machine's loopback (IPv4-mapped IPv6 included)."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def token_ok(sent: str | None, expected: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())


class RemoteClients:
    """Right after the inspector (which stamps the source): a remote reverse-listener client needs the token."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._check(flow)  # before the body is read: a refused client's body is never relayed

    def request(self, flow: http.HTTPFlow) -> None:
        self._check(flow)

    def _check(self, flow: http.HTTPFlow) -> None:
        if self.token is None or flow.response is not None:
            return
        if get_meta(flow).source != "reverse" or is_loopback_peer(flow.client_conn.peername):
            return
        if token_ok(flow.request.headers.get(TOKEN_HEADER), self.token):
            return
        peer = flow.client_conn.peername[0] if flow.client_conn.peername else "unknown"
        message = (f"ccproxy refuses requests from {peer} without its remote token: send it in an "
                   f"{TOKEN_HEADER} header (the owner reads it with `ccproxy status --show-secrets`)")
        log.warning("flow %s: a request from %s without a valid %s was refused", flow.id[:8], peer, TOKEN_HEADER)
        errors.answer(flow, 401, ERROR_TYPE, message)
