"""What a hook gets: the flow, its ccproxy metadata, the config and its own params."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import CCProxyError, DaemonError
from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.pipeline.services import Services

if TYPE_CHECKING:
    from mitmproxy.http import HTTPFlow


HOOK_LOG = logging.getLogger("ccproxy.hooks")


@dataclass
class HookContext:
    """A hook's view of one flow; `services` carries the daemon's shared objects (None outside a daemon)."""

    flow: HTTPFlow
    config: CCProxyConfig
    stage: str = "inbound"
    params: BaseModel | None = None
    services: Services | None = None
    log: logging.Logger = HOOK_LOG
    #: A stage's own working state for this flow (the `shape` stage's `ShapeWork`), else None.
    work: object | None = None
    #: Set when a hook raised an AuthError or RouteError: ccproxy cannot serve the request as configured, and the
    #: stage's addon answers the client with the message in the client's own format.
    refused: CCProxyError | None = None

    def daemon_services(self) -> Services:
        """The daemon's services; a hook that needs them fails clearly when run without a daemon."""
        if self.services is None:
            raise DaemonError(
                f"hook in stage {self.stage!r} needs the daemon's services (credential resolver, shapes); "
                "run it inside `ccproxy start`, or pass HookContext(services=...)"
            )
        return self.services

    @property
    def meta(self) -> FlowMeta:
        return get_meta(self.flow)

    def warn(self, message: str) -> None:
        self.meta.warnings.append(message)
        self.log.warning("flow %s: %s", self.flow.id[:8], message)
