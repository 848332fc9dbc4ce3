"""Swap a sentinel key for the provider's real credential and pick that provider for the flow.

A credential that cannot be had raises `AuthError`; the hook stage answers the client with it in the
client's own wire format and a status no client retries (`addons/errors.answer_local`).
"""

from __future__ import annotations

from ccproxy.auth.apply import apply_credential
from ccproxy.auth.sentinel import find_sentinel
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook


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
    provider = resolver.provider(hit.provider)  # AuthError: the stage answers it in the client's format
    if provider.provider == "recorded":
        return  # answered from recorded flows (addons/recorded.py): no credential to put in
    token = await resolver.resolve(hit.provider)
    apply_credential(req, provider.auth_header, token)
    ctx.meta.auth_injected = True
