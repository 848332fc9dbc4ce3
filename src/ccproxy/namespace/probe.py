"""The doctor's probe: run inside the jail as the jailed command would be, print one JSON report.

`python -m ccproxy.namespace.probe '{"dns_name": ..., "ipv4_target": "host:port", "proxy_port": N}'`
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 10.0
IPV6_DOC_ADDRESS = "2001:db8::1"  # RFC 3849 documentation prefix; a UDP connect() sends nothing


def timed(check: Callable[[], str]) -> dict[str, Any]:
    """Run one check in a thread with a bound (getaddrinfo has no timeout of its own)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result.update(ok=True, detail=check())
        except Exception as exc:
            result.update(ok=False, detail=f"{type(exc).__name__}: {exc}")

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIMEOUT + 5)
    if not result:
        result.update(ok=False, detail=f"no answer within {TIMEOUT + 5:.0f}s")
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_dns(name: str) -> str:
    infos = socket.getaddrinfo(name, 443, socket.AF_INET, socket.SOCK_STREAM)
    return f"{name} -> {', '.join(sorted({str(info[4][0]) for info in infos}))}"


def check_ipv4(target: str) -> str:
    """TLS, then one request: mitmproxy accepts every connection and handshake in the tunnel itself
    (lazily), so only an answer proves the real server was reached; ccproxy's own 502 says it was not."""
    host, _, port = target.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # reachability, not trust; trust is the bundle's job
    context.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection((host, int(port)), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=None) as tls,
    ):
        tls.sendall(
            f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ccproxy-doctor\r\nConnection: close\r\n\r\n".encode()
        )
        response = http.client.HTTPResponse(tls)
        response.begin()
        body = response.read(4096) if response.status == 502 else b""
    if response.status == 502 and b"upstream_unreachable" in body:
        message = json.loads(body)["error"]["message"]
        raise ConnectionError(message.split(". Check")[0])
    return f"HTTPS to {target} through the tunnel: HTTP {response.status}"


def check_localhost(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET /health answered {response.status}")
    return f"ccproxy at 127.0.0.1:{port} answered /health"


def ipv6_report() -> dict[str, Any]:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((IPV6_DOC_ADDRESS, 443))
        except OSError as exc:
            if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                return {"routed": False, "detail": "no IPv6 route in the jail; IPv6 destinations fail fast"}
            return {"routed": False, "detail": str(exc)}
    return {"routed": True, "detail": "an IPv6 route exists (it does not go through the tunnel)"}


def main(argv: list[str]) -> int:
    args = json.loads(argv[1])
    report = {
        "dns": timed(lambda: check_dns(args["dns_name"])),
        "ipv4": timed(lambda: check_ipv4(args["ipv4_target"])),
        "localhost": timed(lambda: check_localhost(int(args["proxy_port"]))),
        "ipv6": ipv6_report(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
