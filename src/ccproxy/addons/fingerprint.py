"""Record what a jailed client looked like on the wire (TLS ClientHello, ALPN, header order)."""

from __future__ import annotations

import logging
from typing import Any

from mitmproxy import connection, http, tls

from ccproxy.flowmeta import get_meta
from ccproxy.wire.fingerprint import ClientHelloError, http_fingerprint, tls_fingerprint

log = logging.getLogger("ccproxy.fingerprint")


def _alpn(conn: connection.Client) -> str | None:
    return conn.alpn.decode("ascii", "replace") if conn.alpn else None


class Fingerprint:
    """Inspection only, never imitation: the ClientHello is read once per connection, kept per client."""

    def __init__(self) -> None:
        self.hellos: dict[str, dict[str, Any]] = {}

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        client = data.context.client
        if getattr(client.proxy_mode, "type_name", "") not in ("wireguard", "regular"):
            return
        try:
            self.hellos[client.id] = tls_fingerprint(data.client_hello.raw_bytes(wrap_in_record=False))
        except (ClientHelloError, NotImplementedError) as exc:
            log.debug("unparsable ClientHello from %s: %s", client.peername, exc)

    def client_disconnected(self, client: connection.Client) -> None:
        self.hellos.pop(client.id, None)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.source not in ("wireguard", "forward"):
            return
        client = flow.client_conn
        doc: dict[str, Any] = {"tls": None}
        offered = self.hellos.get(client.id)
        if offered is not None:
            doc["tls"] = {
                **offered,
                "negotiated_version": client.tls_version,
                "negotiated_alpn": _alpn(client),
            }
        names = [name.decode("ascii", "replace") for name, _ in flow.request.headers.fields]
        doc.update(http_fingerprint(flow.request.http_version, names))
        meta.fingerprint = doc
