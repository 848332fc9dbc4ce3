"""The task reading one flow's upstream connection, found through `Proxyserver.connections[..]
.transports[..].handler`: mitmproxy has no public way to close a single upstream connection."""

from __future__ import annotations

import asyncio
from typing import Any


def upstream_task(master: Any, flow: Any) -> asyncio.Task[Any] | None:
    """The task that reads the flow's upstream connection (mitmproxy's connection handler); None once gone."""
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    handler = getattr(proxyserver, "connections", {}).get(flow.client_conn.id)
    io = getattr(handler, "transports", {}).get(flow.server_conn) if handler is not None else None
    task = getattr(io, "handler", None)
    return task if isinstance(task, asyncio.Task) and not task.done() else None
