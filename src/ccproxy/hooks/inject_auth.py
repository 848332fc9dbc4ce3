"""Swap a sentinel key for the provider's real credential and pick that provider for the flow."""

from __future__ import annotations

import json
import logging

from mitmproxy import http

from ccproxy.auth.apply import apply_credential
from ccproxy.auth.sentinel import find_sentinel
from ccproxy.errors import AuthError
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.wire.anthropic import typed_error_body

log = logging.getLogger("ccproxy.auth")


def _auth_error(ctx: HookContext, message: str) -> None:
    ctx.meta.error = message
    log.warning("flow %s: %s", ctx.flow.id[:8], message)
    body = typed_error_body("ccproxy_auth_error", message)
    ctx.flow.response = http.Response.make(502, json.dumps(body), {"content-type": "application/json"})


@hook(
    reads=["request.headers", "request.query"],
    writes=["request.headers", "request.query", "metadata.provider"],
)
async def inject_auth(ctx: HookContext) -> None:
    """sk-ant-oat-ccproxy-{name} -> providers[name]'s credential in that provider's header."""
    req = ctx.flow.request
    hit = find_sentinel(req.headers, req.path.partition("?")[2])
    if hit is None:
        return
    resolver = ctx.daemon_services().resolver
    ctx.meta.provider = hit.provider
    try:
        provider = resolver.provider(hit.provider)
        if provider.provider == "recorded":
            return  # answered from recorded flows (addons/recorded.py): no credential to put in
        token = await resolver.resolve(hit.provider)
    except AuthError as exc:
        _auth_error(ctx, str(exc))
        return
    apply_credential(req, provider.auth_header, token)
    ctx.meta.auth_injected = True
