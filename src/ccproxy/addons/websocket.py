"""WebSocket upgrades (Codex CLI's `GET /v1/responses`): passed through, or refused so the client uses HTTP.

mitmproxy relays a WebSocket once the provider answered 101: the handshake is an ordinary request
for the rest of the chain (routing, credential swap, sentinel check), and every message lands in
`flow.websocket.messages`, which the recorder stores when the socket ends. What ccproxy cannot do is
translate a socket: its messages are Responses events, not one body, so where the route would
translate (a `transform` rule, or a sentinel provider of another wire format) the router refuses
the upgrade with 426 instead. 426 is the one status Codex reads as "no WebSocket here, use HTTP"
(it then POSTs `/v1/responses`, which ccproxy translates); a 501 or 400 would be retried as a
failed stream and then end the turn.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors

log = logging.getLogger("ccproxy.websocket")

REFUSED_STATUS = 426
ERROR_TYPE = "ccproxy_websocket_unsupported"


def is_upgrade(request: http.Request) -> bool:
    """A WebSocket opening handshake (RFC 6455: `Upgrade: websocket` on a GET)."""
    return request.method == "GET" and "websocket" in request.headers.get("upgrade", "").lower()


def refuse_upgrade(flow: http.HTTPFlow, provider: str, client_format: str, dest_format: str,
                   reason: str) -> None:
    """Answer the handshake with a JSON 426; the decision is kept in `.ccproxy.extra.websocket`."""
    meta = get_meta(flow)
    message = (
        f"ccproxy does not translate WebSocket sessions ({reason}: {client_format} -> {dest_format}, "
        f"provider {provider!r}); use HTTP for this route (Codex CLI falls back to HTTP on this 426 by "
        "itself). To keep the WebSocket, route it to a provider with `provider: openai_responses`."
    )
    meta.error = message
    meta.websocket_refusal = {
        "refused": REFUSED_STATUS,
        "reason": reason,
        "provider": provider,
        "from_format": client_format,
        "to_format": dest_format,
    }
    errors.answer(flow, REFUSED_STATUS, ERROR_TYPE, message, close=True)
    log.info("flow %s: WebSocket upgrade refused (%s, %s -> %s)", flow.id[:8], reason, client_format, dest_format)


class WebSocketLog:
    """Says in the daemon log when a socket opens and how it ended (no payloads: they may hold secrets)."""

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        log.info("flow %s: WebSocket open to %s (provider %s)", flow.id[:8], flow.request.pretty_host,
                 meta.provider or "-")

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        if ws is None:
            return
        sent = sum(1 for m in ws.messages if m.from_client)
        by = "client" if ws.closed_by_client else "provider"
        log.info("flow %s: WebSocket closed by the %s (%s%s): %d messages sent, %d received",
                 flow.id[:8], by, ws.close_code, f" {ws.close_reason}" if ws.close_reason else "",
                 sent, len(ws.messages) - sent)
