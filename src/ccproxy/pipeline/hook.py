"""`@hook(reads=..., writes=...)`: the one documented signature every hook has."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from ccproxy.pipeline.context import HookContext

HookFn = Callable[["HookContext"], Awaitable[None] | None]
StageName = Literal["inbound", "outbound", "shape"]

_ATTR = "__ccproxy_hook__"


@dataclass(frozen=True)
class HookSpec:
    """A hook function with what it reads and writes, its default stage and its params model."""

    name: str
    fn: HookFn
    reads: frozenset[str]
    writes: frozenset[str]
    stage: StageName
    params_model: type[BaseModel] | None = None
    description: str = ""
    params: BaseModel | None = field(default=None, compare=False)

    def with_params(self, params: BaseModel | None) -> HookSpec:
        return HookSpec(
            self.name,
            self.fn,
            self.reads,
            self.writes,
            self.stage,
            self.params_model,
            self.description,
            params,
        )


def hook(
    *,
    reads: list[str] | tuple[str, ...] = (),
    writes: list[str] | tuple[str, ...] = (),
    stage: StageName = "inbound",
    params: type[BaseModel] | None = None,
    name: str | None = None,
) -> Callable[[HookFn], HookFn]:
    """Mark `fn(ctx)` as a hook; `reads`/`writes` name flow fields and order the stage's DAG."""

    def mark(fn: HookFn) -> HookFn:
        doc = (fn.__doc__ or "").strip().splitlines()
        spec = HookSpec(
            name=name or fn.__name__,
            fn=fn,
            reads=frozenset(reads),
            writes=frozenset(writes),
            stage=stage,
            params_model=params,
            description=doc[0] if doc else "",
        )
        setattr(fn, _ATTR, spec)
        return fn

    return mark


def spec_of(obj: Any) -> HookSpec | None:
    spec = getattr(obj, _ATTR, None)
    return spec if isinstance(spec, HookSpec) else None
