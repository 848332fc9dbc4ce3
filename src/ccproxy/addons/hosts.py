"""Every host a captured client contacted, decrypted or tunnelled, with counts; and the forward proxy's
optional allow-list (`inspector.forward.allow_hosts`), which refuses other hosts and lists them as refused.

The log is per daemon, in memory, bounded, with a time per entry: `ccproxy run --proxy|--inspect` asks
for the hosts seen since its child started (`GET /ccproxy/api/hosts?since=T`) and prints them when the
child exits. Concurrent runs of the same daemon see each other's hosts (they share one proxy).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from mitmproxy import http, tcp

from ccproxy.addons.forward import is_forward
from ccproxy.config.model import CCProxyConfig
from ccproxy.forward.hosts import InterceptHosts, normalize
from ccproxy.mitm import answers as errors

log = logging.getLogger("ccproxy.hosts")

MAX_ENTRIES = 100_000
HOSTS_PATH = "/ccproxy/api/hosts"


def refused(host: str) -> http.Response:
    message = (f"ccproxy forward proxy: {host} is not in inspector.forward.allow_hosts; add it there (exact or "
               "*.domain) and restart ccproxy to let the client reach it")
    return http.Response.make(403, errors.error_json(403, message, "ccproxy_host_not_allowed"),
                              {"content-type": "application/json"})


class HostLog:
    """After the forward gate (a client without the proxy credential has already had its 407)."""

    def __init__(self, config: CCProxyConfig) -> None:
        forward = config.inspector.forward
        self.intercept = InterceptHosts.from_config(config)
        self.allow = InterceptHosts.from_names(forward.allow_hosts) if forward.allow_hosts is not None else None
        self.entries: deque[tuple[float, str, str]] = deque(maxlen=MAX_ENTRIES)

    def allowed(self, host: str, port: int) -> bool:
        return self.allow is None or self.intercept.matches(host, port) or self.allow.matches(host, port)

    def _note(self, host: str, how: str) -> None:
        self.entries.append((time.time(), normalize(host), how))

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if not is_forward(flow.client_conn) or flow.response is not None:
            return
        host, port = flow.request.host, flow.request.port
        if not self.allowed(host, port):
            flow.response = refused(host)
            self._note(host, "refused")
            log.warning("forward proxy: CONNECT %s refused (not in inspector.forward.allow_hosts)", host)
            return
        self._note(host, "decrypted" if self.intercept.matches(host, port) else "tunnelled")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if getattr(flow.client_conn.proxy_mode, "type_name", "") == "wireguard":
            self._note(flow.request.pretty_host, "decrypted")  # the jail: every request is decrypted
            return
        if not is_forward(flow.client_conn) or flow.response is not None or flow.client_conn.tls_established:
            return  # not the forward proxy, answered (407), or inside a CONNECT tunnel its CONNECT counted
        host, port = flow.request.host, flow.request.port
        if not self.allowed(host, port):
            flow.response = refused(host)
            self._note(host, "refused")
            return
        self._note(host, "plain")

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        """A jailed client's non-HTTP connection (the forward proxy's tunnels make no TCP flow)."""
        if getattr(flow.client_conn.proxy_mode, "type_name", "") == "wireguard" and flow.server_conn.address:
            self._note(flow.server_conn.sni or str(flow.server_conn.address[0]), "tcp")

    def hosts(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Per host, newest activity last: how often it was reached, and how."""
        table: dict[str, dict[str, Any]] = {}
        for t, host, how in self.entries:
            if t < since:
                continue
            row = table.setdefault(host, {"host": host, "first": t, "last": t, "count": 0})
            row["count"] += 1
            row["last"] = t
            row[how] = row.get(how, 0) + 1
        return sorted(table.values(), key=lambda r: r["first"])


def install(master: Any, log_: HostLog) -> None:
    """`GET /ccproxy/api/hosts?since=EPOCH` on mitmweb (the web token guards it, like `/flows`)."""
    from mitmproxy.tools.web.app import RequestHandler

    class Hosts(RequestHandler):
        def get(self) -> None:
            since = float(self.get_query_argument("since", "0") or 0)
            self.write({"hosts": log_.hosts(since)})

    master.app.add_handlers(r".*", [(HOSTS_PATH, Hosts)])
