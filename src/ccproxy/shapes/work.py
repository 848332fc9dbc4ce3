"""What a shape hook works on: the shaped body, the shape, the profile and the live flow.

Shape hooks are ordinary `@hook` functions run in the `shape` stage. `ctx.flow` is a working copy
whose request carries the shape's headers (edit them there); the body is `shape_work(ctx).body`,
a parsed dict every hook of the stage shares, serialized once when the stage is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccproxy.errors import ShapeError
from ccproxy.shapes.envelope import Shape
from ccproxy.shapes.profile import Profile

if TYPE_CHECKING:
    from mitmproxy.http import HTTPFlow

    from ccproxy.pipeline.context import HookContext


@dataclass
class ShapeWork:
    shape: Shape
    profile: Profile
    body: dict[str, Any]
    incoming: HTTPFlow


def shape_work(ctx: HookContext) -> ShapeWork:
    work = ctx.work
    if not isinstance(work, ShapeWork):
        raise ShapeError("this hook is a shape hook: list it under shaping.providers.<name>.shape_hooks")
    return work
