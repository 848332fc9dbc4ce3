"""Capacity fallback, configured as the reference has it: an outbound hook with params.

The hook only arms the flow (`.ccproxy.extra.capacity.policy`); the retries happen on the response
side, in `addons/capacity.py`, before any byte of the answer reaches the client. Off unless listed
in `hooks.outbound`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.wire.endpoints import main_endpoint


class Params(BaseModel):
    """`fallback_models`: `model` (same provider) or `provider/model`, tried in order."""

    model_config = ConfigDict(extra="forbid")

    fallback_models: list[str] = Field(default_factory=list)
    sticky_retry_attempts: int = Field(default=1, ge=0, le=10)
    sticky_retry_max_delay_seconds: float = Field(default=10.0, ge=0)
    terminal_delay_threshold_seconds: float = Field(default=300.0, ge=0)
    total_retry_budget_seconds: float = Field(default=60.0, ge=0, le=900)


@hook(reads=["metadata.transform"], writes=["metadata.capacity"], stage="outbound", params=Params)
def capacity_fallback(ctx: HookContext) -> None:
    """Arm the flow for capacity fallback: on 429/503/529 retry, then walk `fallback_models`."""
    params = ctx.params if isinstance(ctx.params, Params) else Params()
    if ctx.meta.transform is None or main_endpoint(ctx.flow.request.path) is None:
        return  # ccproxy answered it itself, or no generation call (a download in the jail, countTokens)
    ctx.meta.capacity = {"policy": params.model_dump(), "attempts": []}
