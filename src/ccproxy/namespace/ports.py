"""Ports across the jail wall: which TCP ports listen inside (kernel socket tables), and loopback listeners."""

from __future__ import annotations

import socket
from dataclasses import dataclass

LISTEN = "0A"
_V4_LOOPBACK_OR_ANY = ("00000000",)
_V6_ANY = "0" * 32
_V6_LOOPBACK = "00000000000000000000000001000000"
_V6_MAPPED_PREFIX = "0000000000000000FFFF0000"


@dataclass(frozen=True)
class Listening:
    port: int
    #: Where to connect inside the jail to reach it: "127.0.0.1" or "::1".
    connect_host: str


def _v4_local(hex_addr: str) -> bool:
    return hex_addr in _V4_LOOPBACK_OR_ANY or hex_addr.endswith("7F")  # little-endian 127.x.x.x


def _v6_kind(hex_addr: str) -> str | None:
    addr = hex_addr.upper()
    if addr in (_V6_ANY, _V6_LOOPBACK):
        return "::1"
    if addr.startswith(_V6_MAPPED_PREFIX) and _v4_local(addr[len(_V6_MAPPED_PREFIX) :]):
        return "127.0.0.1"
    return None


def parse_proc_net_tcp(text: str, ipv6: bool) -> list[Listening]:
    """LISTEN sockets bound to loopback or the wildcard (what an OAuth callback server binds)."""
    found: list[Listening] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != LISTEN:
            continue
        hex_addr, _, hex_port = fields[1].partition(":")
        port = int(hex_port, 16)
        if ipv6:
            host = _v6_kind(hex_addr)
            if host is not None:
                found.append(Listening(port, host))
        elif _v4_local(hex_addr.upper()):
            found.append(Listening(port, "127.0.0.1"))
    return found


def listening_ports(proc_net: str = "/proc/net") -> dict[int, str]:
    """port -> host to connect to; IPv4 wins when both families listen."""
    result: dict[int, str] = {}
    for name, v6 in (("tcp6", True), ("tcp", False)):
        try:
            with open(f"{proc_net}/{name}", encoding="ascii") as fh:
                text = fh.read()
        except OSError:
            continue
        for item in parse_proc_net_tcp(text, v6):
            result[item.port] = item.connect_host
    return result


def bind_loopback(port: int) -> list[socket.socket]:
    """Non-blocking listeners on 127.0.0.1 and ::1 (IPv6-only); an address that cannot bind is skipped."""
    made: list[socket.socket] = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError:
            sock.close()
            continue
        made.append(sock)
    return made
