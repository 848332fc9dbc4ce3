"""The jail's network, inside its namespace: a WireGuard client and policy routing that sends everything into it.

Only the WireGuard socket's own packets (marked with the fwmark) use the TAP and slirp4netns; every
other IPv4 packet, including those to slirp's gateway and DNS, goes through wg0 into mitmproxy.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ccproxy.errors import NamespaceError
from ccproxy.namespace import mounts
from ccproxy.namespace.topology import Topology

WG_UAPI_DIR = "/run/wireguard"
HANDSHAKE_TIMEOUT = 10.0
UAPI_TIMEOUT = 5.0


def run(argv: list[str], input_text: str | None = None, what: str = "") -> str:
    """Run a set-up command; a failure becomes a NamespaceError quoting its stderr."""
    try:
        done = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=20)
    except FileNotFoundError:
        raise NamespaceError(f"{what or argv[0]}: {argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise NamespaceError(f"{what or argv[0]}: `{' '.join(argv)}` did not finish in 20s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise NamespaceError(
            f"{what or argv[0]} failed: `{' '.join(argv)}`: {detail[-1] if detail else 'exit ' + str(done.returncode)}"
        )
    return done.stdout


def route_commands(topo: Topology, ip: str = "ip") -> list[list[str]]:
    """Address, MTU and the policy route of wg0 (the wg-quick recipe, IPv4 only)."""
    wg, table = topo.wg_interface, str(topo.route_table)
    return [
        [ip, "-4", "address", "add", topo.wg_address, "dev", wg],
        [ip, "link", "set", wg, "mtu", str(topo.wg_mtu), "up"],
        [ip, "-4", "route", "add", "default", "dev", wg, "table", table],
        [
            ip,
            "-4",
            "rule",
            "add",
            "not",
            "fwmark",
            str(topo.fwmark),
            "table",
            table,
            "priority",
            str(topo.rule_priority),
        ],
    ]


def _private_run() -> None:
    """In wireguard-go's child, before exec: a mount namespace of its own with a writable /run.

    wireguard-go and wg insist on /var/run/wireguard/<iface>.sock; a tmpfs over /run there keeps
    the host's /run untouched and visible to the jailed command.
    """
    os.unshare(os.CLONE_NEWNS)
    mounts.make_private("/")
    mounts.tmpfs("/run", 0o755)
    os.mkdir(WG_UAPI_DIR, 0o700)


class WireGuardClient:
    """wg0 through the kernel module when it is there, else wireguard-go on a TUN."""

    def __init__(self, topo: Topology, tools: dict[str, str], log: IO[bytes]) -> None:
        self.topo = topo
        self.tools = tools
        self.log = log
        self.backend = ""
        self.process: subprocess.Popen[bytes] | None = None

    def wg(self, *args: str) -> list[str]:
        """`wg` where it can see the interface's control socket."""
        wg = self.tools.get("wg", "wg")
        if self.process is None:
            return [wg, *args]
        return [
            self.tools.get("nsenter", "nsenter"),
            f"--target={self.process.pid}",
            "--mount",
            "--",
            wg,
            *args,
        ]

    def create(self, allow_kernel: bool) -> None:
        wg = self.topo.wg_interface
        if allow_kernel:
            ip = self.tools.get("ip", "ip")
            probe = subprocess.run([ip, "link", "add", wg, "type", "wireguard"], capture_output=True)
            if probe.returncode == 0:
                self.backend = "kernel"
                return
        env = {**os.environ, "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
        try:
            self.process = subprocess.Popen(
                [self.tools.get("wireguard-go", "wireguard-go"), "--foreground", wg],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=self.log,
                preexec_fn=_private_run,  # the helper is single-threaded while it sets up
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise NamespaceError(f"cannot start wireguard-go: {exc}") from None
        self.backend = "wireguard-go"
        sock = Path(f"/proc/{self.process.pid}/root{WG_UAPI_DIR}/{wg}.sock")
        wait_until(
            lambda: sock.exists(), UAPI_TIMEOUT, self._exited, "wireguard-go to create its control socket"
        )

    def _exited(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"wireguard-go exited {self.process.returncode}"
        return None

    def configure(self, setconf: str) -> None:
        run(self.wg("setconf", self.topo.wg_interface, "/dev/stdin"), setconf, "configuring WireGuard")
        for argv in route_commands(self.topo, self.tools.get("ip", "ip")):
            run(argv, what="routing through WireGuard")
        with contextlib.suppress(OSError):  # only matters for reverse-path filtering of marked packets
            Path("/proc/sys/net/ipv4/conf/all/src_valid_mark").write_text("1")

    def handshake_done(self) -> bool:
        out = run(
            self.wg("show", self.topo.wg_interface, "latest-handshakes"), what="reading WireGuard state"
        )
        return any(line.split()[-1] != "0" for line in out.splitlines() if line.split())

    def wait_handshake(self, endpoint: str) -> None:
        wait_until(
            self.handshake_done,
            HANDSHAKE_TIMEOUT,
            self._exited,
            f"a WireGuard handshake with ccproxy at {endpoint} (is `ccproxy start` still running?)",
        )


def wait_until(
    ready: Callable[[], bool], timeout: float, failed: Callable[[], str | None], what: str
) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not ready():
        reason = failed()
        if reason:
            raise NamespaceError(f"gave up waiting for {what}: {reason}")
        if time.monotonic() > deadline:
            raise NamespaceError(f"gave up waiting for {what} after {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
