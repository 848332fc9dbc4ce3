"""Ask Anthropic for full thinking: drop `redact-thinking-*` betas from `anthropic-beta`, keep every other."""

from __future__ import annotations

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook

HEADER = "anthropic-beta"
REDACT_PREFIX = "redact-thinking-"


def strip_redact_thinking(value: str) -> str:
    """The header value without `redact-thinking-*` entries; the rest keeps its order and spacing."""
    kept = [item for item in value.split(",") if not item.strip().lower().startswith(REDACT_PREFIX)]
    return ",".join(kept).strip()


@hook(reads=["request.headers"], writes=["request.headers"], stage="outbound")
def verbose_mode(ctx: HookContext) -> None:
    """anthropic-beta without redact-thinking-*; the header goes when nothing else was in it."""
    headers = ctx.flow.request.headers
    values = headers.get_all(HEADER)
    if not any(REDACT_PREFIX in v.lower() for v in values):
        return
    kept = [s for s in (strip_redact_thinking(v) for v in values) if s]
    if kept:
        headers.set_all(HEADER, kept)
    else:
        del headers[HEADER]
