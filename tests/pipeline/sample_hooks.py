"""Hooks used by the pipeline tests (and by e2e tests through `hooks.inbound` config)."""

from __future__ import annotations

from pydantic import BaseModel

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook


class TagParams(BaseModel):
    value: str
    header: str = "x-sample-tag"


@hook(reads=[], writes=["request.headers"], params=TagParams)
def tag(ctx: HookContext) -> None:
    """Put a header on the forwarded request."""
    assert isinstance(ctx.params, TagParams)
    ctx.flow.request.headers[ctx.params.header] = ctx.params.value


@hook(reads=["request.headers"], writes=["metadata.extra"])
def read_tag(ctx: HookContext) -> None:
    """Copy the tag into the flow's metadata; must run after `tag`."""
    ctx.meta.extra["seen_tag"] = ctx.flow.request.headers.get("x-sample-tag")


@hook(writes=["request.body"])
def boom(ctx: HookContext) -> None:
    """Always fails: the pipeline must isolate it."""
    raise RuntimeError("boom hook exploded")


@hook(stage="outbound", writes=["request.headers"])
async def outbound_mark(ctx: HookContext) -> None:
    """An async outbound hook."""
    ctx.flow.request.headers["x-sample-outbound"] = "1"
