"""Shape hooks for prompt-cache breakpoints (`cache_control`), after a merge changed where they sit.

A shape's system preamble carries its own breakpoints; prepended to the client's system prompt, the
total can pass the provider's limit (Anthropic: 4 per request) and the request is refused.
`cache_strip` removes breakpoints at given paths, `cache_insert` puts one at a given path, and
`cache_limit` keeps at most N, dropping the earliest in prompt order (tools, system, messages)
so the longest cached prefix survives. Name them as `ccproxy.shapes.cache.<hook>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.shapes import paths
from ccproxy.shapes.work import shape_work

KEY = "cache_control"
#: Anthropic reads a request's prompt in this order; breakpoints elsewhere count after these.
PROMPT_ORDER = ("tools", "system", "messages")


class StripParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=lambda: [f"system.*.{KEY}"], description="Body paths to delete.")


class InsertParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(default=f"system.-1.{KEY}", description="Where the one breakpoint goes; its parent must exist.")
    value: dict[str, Any] = Field(default_factory=lambda: {"type": "ephemeral"})


class LimitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: int = Field(default=4, ge=0, description="Most breakpoints a request may carry.")


@hook(reads=["request.body"], writes=["request.body"], stage="shape", params=StripParams)
def cache_strip(ctx: HookContext) -> None:
    """Delete `cache_control` (or anything) at each of `paths`."""
    params = ctx.params if isinstance(ctx.params, StripParams) else StripParams()
    body = shape_work(ctx).body
    for path in params.paths:
        paths.delete(body, path)


@hook(reads=["request.body"], writes=["request.body"], stage="shape", params=InsertParams)
def cache_insert(ctx: HookContext) -> None:
    """Set one breakpoint at `path` (e.g. the last system block); skipped when the parent is missing."""
    params = ctx.params if isinstance(ctx.params, InsertParams) else InsertParams()
    body = shape_work(ctx).body
    parent, _, _ = params.path.rpartition(".")
    if not parent or paths.get(body, parent):
        paths.assign(body, params.path, dict(params.value))


def breakpoints(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (container, "cache_control") in prompt order."""

    def walk(node: Any) -> Iterator[tuple[dict[str, Any], str]]:
        if isinstance(node, dict):
            if KEY in node:
                yield node, KEY
            for k, v in node.items():
                if k != KEY:
                    yield from walk(v)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for key in PROMPT_ORDER:
        yield from walk(body.get(key))
    for key, value in body.items():
        if key not in PROMPT_ORDER:
            yield from walk(value)


@hook(reads=["request.body"], writes=["request.body"], stage="shape", params=LimitParams)
def cache_limit(ctx: HookContext) -> None:
    """At most `max` breakpoints: the earliest extra ones go, and the flow gets a warning saying so."""
    params = ctx.params if isinstance(ctx.params, LimitParams) else LimitParams()
    found = list(breakpoints(shape_work(ctx).body))
    extra = len(found) - params.max
    if extra <= 0:
        return
    for container, key in found[:extra]:
        del container[key]
    ctx.warn(f"shape: {len(found)} cache breakpoints exceed the limit of {params.max}; removed the first {extra}")
