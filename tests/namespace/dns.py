"""A minimal authoritative DNS responder over UDP: A records from a dict, NXDOMAIN for anything else."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading

TYPE_A = 1


def parse_question(packet: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, name, qtype, end offset of the question)."""
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("expected one question")
    labels, pos = [], 12
    while packet[pos]:
        length = packet[pos]
        labels.append(packet[pos + 1 : pos + 1 + length].decode("ascii").lower())
        pos += 1 + length
    qtype, _qclass = struct.unpack("!HH", packet[pos + 1 : pos + 5])
    return ident, flags, ".".join(labels), qtype, pos + 5


def answer(packet: bytes, records: dict[str, str]) -> bytes:
    ident, flags, name, qtype, end = parse_question(packet)
    question = packet[12:end]
    rd = flags & 0x0100
    if name not in records:
        return struct.pack("!HHHHHH", ident, 0x8083 | rd, 1, 0, 0, 0) + question  # NXDOMAIN
    answers = b""
    count = 0
    if qtype == TYPE_A:
        rdata = ipaddress.IPv4Address(records[name]).packed
        answers = struct.pack("!HHHIH", 0xC00C, TYPE_A, 1, 60, len(rdata)) + rdata
        count = 1
    return struct.pack("!HHHHHH", ident, 0x8480 | rd, 1, count, 0, 0) + question + answers


class DnsServer:
    """Answers on a bound UDP socket from a background thread; records every name asked."""

    def __init__(self, sock: socket.socket, records: dict[str, str]) -> None:
        self.sock = sock
        self.records = {k.lower(): v for k, v in records.items()}
        self.queries: list[str] = []
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(ValueError, IndexError, struct.error):
                self.queries.append(parse_question(packet)[2])
                self.sock.sendto(answer(packet, self.records), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
