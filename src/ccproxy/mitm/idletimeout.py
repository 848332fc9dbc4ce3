"""Say so when ccproxy's own idle timeout ended a connection, instead of "peer closed connection".

mitmproxy closes a connection that sat idle for `tcp_timeout` (`inspector.idle_timeout`) by
cancelling its reader; a flow whose request body was still arriving then fails with the same error
as a client that hung up. The patch marks the client connection before mitmproxy closes it
(`IDLE_MARK`); `addons/timeouts.py` reads the mark in the error hook and names the timeout.
"""

from __future__ import annotations

from typing import Any

#: Set on a client connection mitmproxy is closing for idling; `addons/timeouts.py` reads it.
IDLE_MARK = "_ccproxy_idle_timeout"


def install() -> None:
    from mitmproxy.proxy import server

    handler: Any = server.ConnectionHandler
    if getattr(handler.on_timeout, "_ccproxy", False):
        return
    original = handler.on_timeout

    async def on_timeout(self: Any) -> None:
        setattr(self.client, IDLE_MARK, True)
        await original(self)

    on_timeout._ccproxy = True  # type: ignore[attr-defined]
    handler.on_timeout = on_timeout
