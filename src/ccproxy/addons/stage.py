"""Run one hook stage (inbound or outbound) as an addon at its place in the chain."""

from __future__ import annotations

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.mitm.answers import answer_in_format, answer_local
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.executor import Stage
from ccproxy.pipeline.services import Services
from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.neutral import ApiError


class HookStage:
    """Runs its Stage on every accepted request that no earlier addon answered."""

    def __init__(self, stage: Stage, config: CCProxyConfig, services: Services) -> None:
        self.stage = stage
        self.config = config
        self.services = services

    @property
    def name(self) -> str:
        return f"{self.stage.name}_hooks"

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or get_meta(flow).internal:
            return
        ctx = HookContext(flow=flow, config=self.config, stage=self.stage.name, services=self.services)
        await self.stage.run(ctx)
        if ctx.refused is not None and flow.response is None:
            answer_local(flow, ctx.refused)
        refusal = get_meta(flow).refusal
        if refusal is not None and flow.response is None:
            # A hook refused the request (the loop guard): answered here, in the client's own format.
            endpoint = main_endpoint(flow.request.path)
            error = ApiError(refusal.get("kind", "invalid_request"), str(refusal.get("message", "refused by a hook")))
            answer_in_format(flow, endpoint.format if endpoint else None, error)
