"""Listening sockets read from /proc/net/tcp{,6}: the table format and a live socket."""

from __future__ import annotations

import socket

from ccproxy.namespace.ports import Listening, listening_ports, parse_proc_net_tcp

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0202000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000000000000:2329 00000000000000000000000000000000:0000 0A
   2: 0000000000000000FFFF00000100007F:232A 00000000000000000000000000000000:0000 0A
   3: 20010DB8000000000000000001000000:232B 00000000000000000000000000000000:0000 0A
"""


def test_ipv4_loopback_and_wildcard_listeners_only() -> None:
    assert parse_proc_net_tcp(TCP, ipv6=False) == [Listening(8080, "127.0.0.1"), Listening(80, "127.0.0.1")]


def test_ipv6_loopback_wildcard_and_mapped() -> None:
    assert parse_proc_net_tcp(TCP6, ipv6=True) == [
        Listening(9000, "::1"),
        Listening(9001, "::1"),
        Listening(9002, "127.0.0.1"),
    ]


def test_a_live_listener_is_seen() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert port not in listening_ports()
        sock.listen(1)
        assert listening_ports()[port] == "127.0.0.1"
