"""Shape hooks for the shape tests: one that writes the body, one that must run after it, one that fails."""

from __future__ import annotations

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.shapes.work import shape_work


@hook(writes=["request.body"], stage="shape")
def mark_body(ctx: HookContext) -> None:
    """Stamp a marker into the shaped body."""
    shape_work(ctx).body["x_marker"] = "marked"


@hook(reads=["request.body"], writes=["request.headers"], stage="shape")
def copy_marker(ctx: HookContext) -> None:
    """Copy the body marker into a header; the DAG puts it after `mark_body` whatever the config order."""
    ctx.flow.request.headers["x-marker"] = str(shape_work(ctx).body.get("x_marker", "missing"))


@hook(writes=["metadata.extra"], stage="shape")
def explode(ctx: HookContext) -> None:
    """Always fails: the stage must isolate it."""
    raise RuntimeError("shape hook exploded")
