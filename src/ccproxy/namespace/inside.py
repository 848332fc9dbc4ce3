"""The jail's helper: pid 1 of the jail's pid namespace, root of its user namespace, never seen by the command.

Run by `unshare` as `python -m ccproxy.namespace.inside FD`. It sets up WireGuard, routes and mounts,
starts the command (in a nested user namespace, so it has no capabilities to undo any of it), relays
ports and signals, and reports the exit status. When it exits, the kernel kills everything left in
the pid namespace, and the network namespace goes with the last process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
from typing import IO, Any

from ccproxy.errors import CCProxyError, NamespaceError
from ccproxy.namespace import mounts
from ccproxy.namespace.control import Channel, ChannelClosed, recv_blocking, send_blocking
from ccproxy.namespace.netsetup import WireGuardClient
from ccproxy.namespace.ports import bind_loopback, listening_ports
from ccproxy.namespace.protocol import (
    Connect,
    Connected,
    Error,
    Exit,
    Hello,
    Inbound,
    Kill,
    Listen,
    Signal,
    Spec,
    Started,
    Unlisten,
    decode,
)
from ccproxy.namespace.sigrelay import RELAYED, default_dispositions
from ccproxy.namespace.splice import splice
from ccproxy.namespace.topology import TOPOLOGY

SPEC_TIMEOUT = 30.0
PORT_POLL = 0.2


def set_up(spec: Spec, log: IO[bytes]) -> WireGuardClient:
    """Network first (the command must never run without the tunnel), then the mounts."""
    client = WireGuardClient(TOPOLOGY, spec.tools, log)
    client.create(allow_kernel=spec.allow_kernel)
    client.configure(spec.setconf)
    client.wait_handshake(spec.endpoint)
    mounts.make_private("/")
    for source, target in spec.mounts:
        try:
            mounts.bind(source, target)
        except OSError as exc:
            raise NamespaceError(
                f"cannot bind-mount {source} over {target} in the jail: {exc.strerror}"
            ) from None
    return client


def command_argv(spec: Spec) -> list[str]:
    """The command, in a nested user namespace mapping the user's own ids: same uid, no capabilities."""
    if not spec.map_user:
        return spec.cmd
    unshare = spec.tools.get("unshare", "unshare")
    return [unshare, "--user", f"--map-user={spec.uid}", f"--map-group={spec.gid}", "--", *spec.cmd]


class Helper:
    """The helper's event loop once the command runs."""

    def __init__(self, channel: Channel, spec: Spec, child: subprocess.Popen[bytes]) -> None:
        self.channel = channel
        self.spec = spec
        self.child = child
        self.status: int | None = None
        self.exited = asyncio.Event()
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.ids = itertools.count(1)
        self.own_ports: set[int] = set(spec.local_ports)
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def reap(self) -> None:
        """As pid 1 we inherit every orphan; reap them all, note the command's status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child.pid:
                self.status = os.waitstatus_to_exitcode(status)
                self.child.returncode = self.status
                self.exited.set()

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        for sig in RELAYED:
            loop.add_signal_handler(sig, lambda: None)  # a terminal's signal reaches the command directly
        self.reap()
        listeners = [await self.listen_local(port) for port in self.spec.local_ports]
        self.spawn(self.watch_ports())
        control = asyncio.ensure_future(self.control())
        exited = asyncio.ensure_future(self.exited.wait())
        await asyncio.wait([control, exited], return_when=asyncio.FIRST_COMPLETED)
        if not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            return 1
        with contextlib.suppress(ChannelClosed):
            await self.channel.send(Exit(1 if self.status is None else self.status).to_json())
        control.cancel()
        for sock in itertools.chain.from_iterable(listeners):
            sock.close()
        return 0

    async def control(self) -> None:
        while True:
            try:
                raw, fds = await self.channel.recv()
            except ChannelClosed:
                return
            match decode(raw):
                case Signal(sig=sig):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.child.pid, int(sig))
                case Kill():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(-1, signal.SIGKILL)
                case Connected(id=ident):
                    future = self.pending.pop(int(ident), None)
                    if future is not None and not future.done():
                        future.set_result(fds[0] if fds else -1)
                    elif fds:
                        os.close(fds[0])
                case Inbound(port=port) if fds:
                    self.spawn(self.inbound(int(port), fds[0]))
                case _:
                    for fd in fds:
                        os.close(fd)

    async def listen_local(self, port: int) -> list[socket.socket]:
        """ccproxy's own ports on the jail's loopback, each connection carried to the host's."""
        made = bind_loopback(port)
        for sock in made:
            self.spawn(self.accept_local(sock, port))
        return made

    async def accept_local(self, listener: socket.socket, port: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError:
                return
            self.spawn(self.outbound(conn, port))

    async def outbound(self, conn: socket.socket, port: int) -> None:
        ident = next(self.ids)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        try:
            await self.channel.send(Connect(port, ident).to_json())
            fd = await asyncio.wait_for(future, 15)
        except (ChannelClosed, TimeoutError):
            conn.close()
            return
        if fd < 0:
            conn.close()
            return
        await splice(conn, socket.socket(fileno=fd))

    async def inbound(self, port: int, fd: int) -> None:
        """A host connection to a port the command listens on: connect to it inside and splice."""
        outside = socket.socket(fileno=fd)
        host = listening_ports().get(port, "127.0.0.1")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        inside = socket.socket(family, socket.SOCK_STREAM)
        inside.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(inside, (host, port))
        except OSError:
            inside.close()
            outside.close()
            return
        await splice(outside, inside)

    async def watch_ports(self) -> None:
        """Tell ccproxy about each port the command starts (or stops) listening on."""
        known: set[int] = set()
        while not self.exited.is_set():
            now = set(listening_ports()) - self.own_ports
            for port in sorted(now - known):
                await self.channel.send(Listen(port).to_json())
            for port in sorted(known - now):
                await self.channel.send(Unlisten(port).to_json())
            known = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), PORT_POLL)


def start_command(spec: Spec) -> subprocess.Popen[bytes]:
    env = {**os.environ, **spec.env}
    return subprocess.Popen(
        command_argv(spec), env=env, cwd=spec.cwd or None, preexec_fn=default_dispositions
    )


async def serve(sock: socket.socket, spec: Spec, child: subprocess.Popen[bytes]) -> int:
    helper = Helper(Channel(sock), spec, child)
    return await helper.serve()


def main(argv: list[str]) -> int:
    signal.pthread_sigmask(signal.SIG_SETMASK, [])  # ccproxy blocks the signals it relays; we must not
    sock = socket.socket(fileno=int(argv[1]))
    try:
        send_blocking(sock, Hello().to_json())
        spec = decode(recv_blocking(sock, SPEC_TIMEOUT))
        if not isinstance(spec, Spec):
            raise NamespaceError("jail protocol: ccproxy sent no spec; reinstall ccproxy")
        with open(spec.log, "ab", buffering=0) as log:
            set_up(spec, log)
            child = start_command(spec)
    except ChannelClosed:
        return 1
    except (CCProxyError, OSError) as exc:
        with contextlib.suppress(OSError):
            send_blocking(sock, Error(str(exc)).to_json())
        return 1
    send_blocking(sock, Started(child.pid).to_json())
    return asyncio.run(serve(sock, spec, child))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
