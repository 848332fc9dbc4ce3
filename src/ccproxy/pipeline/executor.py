"""Run a stage's hooks in DAG order; a failing hook is logged, recorded on the flow and skipped.

A hook that raises an `AuthError` or `RouteError` (a credential that cannot be had, a sentinel naming no provider)
refuses the request instead: the stage stops and `ctx.refused` carries the error to be answered.
"""

from __future__ import annotations

import inspect
import logging

from ccproxy.errors import AuthError, ConfigError, RouteError
from ccproxy.flowmeta import HookRun, get_meta
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.dag import order_hooks
from ccproxy.pipeline.hook import HookSpec
from ccproxy.pipeline.loader import BUILTIN_PACKAGE, load_hook

log = logging.getLogger("ccproxy.pipeline")

OVERRIDE_HEADER = "x-ccproxy-hooks"


def parse_override(value: str | None) -> tuple[set[str], set[str]]:
    """`+a,-b` -> ({"a"}, {"b"}); bare names count as enables."""
    enable: set[str] = set()
    disable: set[str] = set()
    for raw in (value or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("-"):
            disable.add(item[1:].strip())
        else:
            enable.add(item.lstrip("+").strip())
    return enable, disable


class Stage:
    """One ordered list of hooks (inbound, outbound, or a shape profile's hooks)."""

    def __init__(self, name: str, hooks: list[HookSpec]) -> None:
        self.name = name
        self.hooks = hooks

    def _for_request(self, override: str | None) -> list[HookSpec]:
        enable, disable = parse_override(override)
        hooks = [h for h in self.hooks if h.name not in disable]
        present = {h.name for h in hooks}
        extra: list[HookSpec] = []
        for name in sorted(enable - present - disable):
            try:
                spec = load_hook(f"{BUILTIN_PACKAGE}.{name}", OVERRIDE_HEADER)
            except ConfigError:
                log.warning("%s: unknown hook %r ignored", OVERRIDE_HEADER, name)
                continue
            if spec.stage == self.name:
                extra.append(spec)
        return order_hooks(hooks + extra, self.name) if extra else hooks

    async def run(self, ctx: HookContext) -> None:
        override = ctx.flow.request.headers.get(OVERRIDE_HEADER)
        meta = get_meta(ctx.flow)
        for spec in self._for_request(override):
            if ctx.flow.response is not None and ctx.stage != "response":
                break  # a hook answered the request itself (e.g. an auth error); stop the stage
            ctx.stage, ctx.params = self.name, spec.params
            try:
                result = spec.fn(ctx)
                if inspect.isawaitable(result):
                    await result
            except (AuthError, RouteError) as exc:
                log.warning("flow %s: hook %s refused the request: %s", ctx.flow.id[:8], spec.name, exc)
                meta.hooks.append(HookRun(spec.name, self.name, ok=False, error=str(exc)))
                ctx.refused = exc
                break
            except Exception as exc:
                log.exception("hook %s (%s) failed on flow %s", spec.name, self.name, ctx.flow.id[:8])
                meta.hooks.append(
                    HookRun(spec.name, self.name, ok=False, error=f"{type(exc).__name__}: {exc}")
                )
            else:
                meta.hooks.append(HookRun(spec.name, self.name, ok=True))
