"""Replay the routed provider's saved shape around the live request (list it last in `hooks.outbound`)."""

from __future__ import annotations

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.shapes.replay import ShapeRuntime, shape_flow

#: The daemon puts its ShapeRuntime here (daemon/chain.py).
SERVICE = "shapes"


@hook(
    reads=["request.headers", "request.body", "metadata.transform", "metadata.provider"],
    writes=["request.headers", "request.body", "request.query", "metadata.shape"],
    stage="outbound",
)
async def shape(ctx: HookContext) -> None:
    """Shape's envelope + the live request's content fields -> the outgoing request; `.ccproxy.shape` says what."""
    runtime = ctx.services.get(SERVICE)
    if not isinstance(runtime, ShapeRuntime):
        ctx.meta.shape = {"applied": False, "reason": "the daemon has no shape runtime (services['shapes'])"}
        return
    ctx.meta.shape = await shape_flow(ctx.flow, runtime, ctx.config, ctx.services)
