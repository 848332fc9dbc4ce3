"""The daemon objects hooks and addons share, as one typed record built once at start.

Each member is required where ccproxy cannot work without it: a daemon missing its credential
resolver or shape runtime fails when it is built, not by sending a request without a credential
later. Only `notifications` may be None (the MCP server is off). The member types are named for the
type checker only: `pipeline/` sits below `auth/`, `shapes/` and `mcp/` and must not import them.
The shape runtime is not named even so: `shapes/` imports `pipeline/`, and a type-only import back
would close a loop (`shapes.replay.runtime_of` narrows the member to its type).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from ccproxy.errors import DaemonError

if TYPE_CHECKING:
    from ccproxy.auth.resolver import CredentialResolver
    from ccproxy.mcp.notifications import NotificationBuffer

#: Members that may be None, and what None means.
OPTIONAL = {"notifications": "the MCP server is off (mcp.http.enabled: false)"}


@dataclass(frozen=True)
class Services:
    """What `Daemon.build_master` hands to the addon chain and, through `HookContext`, to every hook."""

    resolver: CredentialResolver  # providers' credentials: inject_auth, the router, the 401 replay
    shapes: object  # a shapes.replay.ShapeRuntime (saved shapes and profiles): the `shape` hook
    notifications: NotificationBuffer | None = None  # /mcp/notify events: inject_mcp_notifications

    def __post_init__(self) -> None:
        missing = [f.name for f in fields(self) if getattr(self, f.name) is None and f.name not in OPTIONAL]
        if missing:
            raise DaemonError(
                f"ccproxy services built without {', '.join(missing)}; build them with "
                "ccproxy.daemon.chain.build_services"
            )
