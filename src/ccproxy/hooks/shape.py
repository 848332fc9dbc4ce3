"""Replay the routed provider's saved shape around the live request (list it last in `hooks.outbound`)."""

from __future__ import annotations

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.shapes.replay import shape_flow


@hook(
    reads=["request.headers", "request.body", "metadata.transform", "metadata.provider"],
    writes=["request.headers", "request.body", "request.query", "metadata.shape"],
    stage="outbound",
)
async def shape(ctx: HookContext) -> None:
    """Shape's envelope + the live request's content fields -> the outgoing request; `.ccproxy.shape` says what."""
    if ctx.services is None:
        ctx.meta.shape = {"applied": False, "reason": "run outside the daemon: no shape runtime (ctx.services)"}
        return
    ctx.meta.shape = await shape_flow(ctx.flow, ctx.services, ctx.config)
