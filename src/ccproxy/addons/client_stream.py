"""The client side of a translated stream: its headers, and its last words when the upstream breaks.

mitmproxy offers no way to send bytes after an upstream protocol error: the `error` hook runs, then
the client connection is closed (HTTP/1) or the stream reset (HTTP/2). For HTTP/1 clients ccproxy
writes the client format's error event, and the end of the chunked body, straight onto the client's
transport during the `error` hook, so the SDK raises its own error type instead of a broken-connection
error. HTTP/2 clients (only jailed TLS flows negotiate it) see the stream reset.
"""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import http

from ccproxy.flowmeta import get_meta
from ccproxy.store.sse import SSEParser

log = logging.getLogger("ccproxy.router")


def is_http1(flow: http.HTTPFlow) -> bool:
    return flow.request.http_version.upper().startswith("HTTP/1")


def prepare_headers(flow: http.HTTPFlow) -> None:
    """The translated body has its own length: chunked for HTTP/1 clients, framed by HTTP/2 otherwise."""
    response = flow.response
    assert response is not None
    headers = response.headers
    for name in ("content-length", "content-encoding"):
        headers.pop(name, None)
    headers["content-type"] = "text/event-stream"
    if is_http1(flow):
        headers["transfer-encoding"] = "chunked"
    else:
        headers.pop("transfer-encoding", None)


def _client_writer(flow: http.HTTPFlow) -> Any:
    from mitmproxy import ctx

    server = ctx.master.addons.get("proxyserver")
    handler = getattr(server, "connections", {}).get(flow.client_conn.id)
    transport = handler.transports.get(flow.client_conn) if handler is not None else None
    writer = getattr(transport, "writer", None)
    return None if writer is None or writer.is_closing() else writer


def send_final(flow: http.HTTPFlow, data: bytes) -> bool:
    """Write `data` and the body's end to an HTTP/1 client before mitmproxy closes the connection."""
    if not data or flow.response is None or not is_http1(flow):
        return False
    try:
        writer = _client_writer(flow)
    except (AttributeError, KeyError):
        writer = None
    if writer is None:
        log.debug(
            "flow %s: client connection already gone; the stream ends without an error event", flow.id[:8]
        )
        return False
    chunked = "chunked" in flow.response.headers.get("transfer-encoding", "").lower()
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data) if chunked else data)
    get_meta(flow).client_events.extend(SSEParser().feed(data))
    return True
