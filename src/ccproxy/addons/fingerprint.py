"""Record what a jailed client looked like on the wire (TLS ClientHello, ALPN, header order)."""

from __future__ import annotations

from mitmproxy import http


class Fingerprint:
    """Filled in by the transparent-capture work; inspection only, never imitation."""

    def request(self, flow: http.HTTPFlow) -> None:
        return None
