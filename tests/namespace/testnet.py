"""Test hosts in network namespaces the test creates: a veth pair, addresses 10.213.N.0/24, torn down after.

The host side of the veth is 10.213.N.1 (where mitmproxy connects from); the test host is 10.213.N.2.
Sockets are opened inside the namespace by a short-lived thread that `setns`es into it, so servers run
in this process (sharing state with the test) while listening only in their own namespace.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
from pathlib import Path

NETNS_DIR = Path("/run/netns")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _used_subnets() -> set[int]:
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=10).stdout
    used = set()
    for word in out.split():
        if word.startswith("10.213."):
            used.add(int(word.split(".")[2]))
    return used


def sweep_stale() -> None:
    """Delete test namespaces (and their veth) left by a test run that was killed before its teardown."""
    for entry in NETNS_DIR.glob("ccpt*-*") if NETNS_DIR.is_dir() else []:
        index, _, pid = entry.name[4:].partition("-")
        try:
            os.kill(int(pid), 0)
            continue
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        subprocess.run(["ip", "netns", "del", entry.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", f"ccpt{index}h"], capture_output=True, timeout=10)


class HostNetns:
    """One namespace with one test host address; `.close()` deletes the namespace and its veth."""

    def __init__(self) -> None:
        sweep_stale()
        used = _used_subnets()
        choices = [n for n in range(100, 250) if n not in used]
        self.index = random.choice(choices)
        self.name = f"ccpt{self.index}-{os.getpid()}"
        self.host_if = f"ccpt{self.index}h"
        self.ns_if = f"ccpt{self.index}n"
        self.gateway = f"10.213.{self.index}.1"
        self.address = f"10.213.{self.index}.2"
        self.closed = False
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            ip("link", "set", self.ns_if, "netns", self.name)
            ip("addr", "add", f"{self.gateway}/24", "dev", self.host_if)
            ip("link", "set", self.host_if, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/24", "dev", self.ns_if)
            ip("-n", self.name, "link", "set", self.ns_if, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def socket(self, family: int, kind: int, bind: tuple[str, int]) -> socket.socket:
        """A socket bound inside the namespace (made in a thread that entered it; the thread then ends)."""
        result: list[socket.socket | BaseException] = []

        def make() -> None:
            try:
                with open(NETNS_DIR / self.name) as ns:
                    os.setns(ns.fileno(), os.CLONE_NEWNET)
                sock = socket.socket(family, kind)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(bind)
                result.append(sock)
            except BaseException as exc:
                result.append(exc)

        thread = threading.Thread(target=make)
        thread.start()
        thread.join(10)
        item = result[0]
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)

    def exists(self) -> bool:
        return (NETNS_DIR / self.name).exists()
