"""The host's half of the jail's plumbing: slirp4netns, and the loopback ports shared with the jail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable

from ccproxy.errors import NamespaceError
from ccproxy.namespace.ports import bind_loopback
from ccproxy.namespace.topology import Topology

SLIRP_READY_TIMEOUT = 10.0


class Slirp:
    """slirp4netns attached to the jail's network namespace; it exits when ccproxy closes its exit pipe."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.process: asyncio.subprocess.Process | None = None
        self._exit_w = -1

    async def start(self, target_pid: int, slirp: str, log_fd: int) -> None:
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        self._exit_w = exit_w
        argv = [
            slirp,
            "--configure",
            f"--mtu={self.topo.tap_mtu}",
            f"--ready-fd={ready_w}",
            f"--exit-fd={exit_r}",
            str(target_pid),
            self.topo.tap,
        ]
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                pass_fds=(ready_w, exit_r),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
            )
        finally:
            os.close(ready_w)
            os.close(exit_r)
        loop = asyncio.get_running_loop()
        try:
            ready = await asyncio.wait_for(
                loop.run_in_executor(None, os.read, ready_r, 1), SLIRP_READY_TIMEOUT
            )
        except TimeoutError:
            ready = b""
        finally:
            os.close(ready_r)
        if ready != b"1":
            raise NamespaceError(
                "slirp4netns did not come up (it could not attach a TAP to the jail's namespace)"
            )

    async def stop(self, timeout: float = 5.0) -> None:
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def connect_loopback(port: int) -> socket.socket | None:
    """A connected socket to a ccproxy listener on the host's loopback, or None."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 10)
    except (OSError, TimeoutError):
        sock.close()
        return None
    return sock


class HostPorts:
    """Host loopback listeners mirroring ports the jailed command listens on (OAuth callbacks)."""

    def __init__(self, deliver: Callable[[int, socket.socket], Awaitable[None]]) -> None:
        self.deliver = deliver
        self.listeners: dict[int, list[socket.socket]] = {}
        self.tasks: dict[int, list[asyncio.Task[None]]] = {}

    def open(self, port: int) -> None:
        if port in self.listeners:
            return
        made = bind_loopback(port)
        if not made:
            print(
                f"ccproxy: the jailed command listens on port {port}, but 127.0.0.1:{port} is taken on the host; "
                "it is not reachable from outside the jail",
                file=sys.stderr,
            )
        self.listeners[port] = made
        self.tasks[port] = [asyncio.ensure_future(self._accept(sock, port)) for sock in made]

    async def _accept(self, listener: socket.socket, port: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:
                return
            await self.deliver(port, conn)

    def close(self, port: int) -> None:
        for task in self.tasks.pop(port, []):
            task.cancel()
        for sock in self.listeners.pop(port, []):
            sock.close()

    def close_all(self) -> None:
        for port in list(self.listeners):
            self.close(port)
