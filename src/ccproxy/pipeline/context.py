"""What a hook gets: the flow, its ccproxy metadata, the config and its own params."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.meta import FlowMeta, get_meta

if TYPE_CHECKING:
    from mitmproxy.http import HTTPFlow


HOOK_LOG = logging.getLogger("ccproxy.hooks")


@dataclass
class HookContext:
    """A hook's view of one flow; `services` carries daemon objects (credential resolver, buffers)."""

    flow: HTTPFlow
    config: CCProxyConfig
    stage: str = "inbound"
    params: BaseModel | None = None
    services: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = HOOK_LOG

    @property
    def meta(self) -> FlowMeta:
        return get_meta(self.flow)

    def warn(self, message: str) -> None:
        self.meta.warnings.append(message)
        self.log.warning("flow %s: %s", self.flow.id[:8], message)
