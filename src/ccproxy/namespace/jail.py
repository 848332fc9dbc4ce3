"""`ccproxy run --inspect -- CMD`: run CMD in the capture jail and pass its stdio, signals and exit status through.

The host side (this module) checks prerequisites, writes the jail's private files, starts `unshare`
with the helper (`inside.py`) and slirp4netns, answers the helper's requests for host sockets, and
on every exit path takes everything down again: processes, TAP, tunnel, sockets and files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from ccproxy.cabundle import read_ca
from ccproxy.errors import DaemonError, NamespaceError
from ccproxy.namespace.cabundle import plan_trust
from ccproxy.namespace.control import Channel, ChannelClosed
from ccproxy.namespace.hostside import HostPorts, Slirp, connect_loopback
from ccproxy.namespace.protocol import (
    Connect,
    Connected,
    Error,
    Exit,
    Inbound,
    Kill,
    Listen,
    Message,
    Signal,
    Spec,
    Started,
    Unlisten,
    decode,
)
from ccproxy.namespace.resolver import plan_resolver
from ccproxy.namespace.sigrelay import SignalRelay
from ccproxy.namespace.tools import check_prerequisites, kernel_wireguard
from ccproxy.namespace.topology import TOPOLOGY
from ccproxy.namespace.wgkeys import endpoint_port, setconf_text

PRIVATE_PREFIX = "ccproxy-jail-"
HELLO_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class DaemonInfo(Protocol):
    """What the jail reads from the running daemon's state file."""

    listeners: dict[str, Any]
    extra: dict[str, Any]


@dataclass
class JailOptions:
    nameservers: list[str]
    stop_timeout: float = STOP_TIMEOUT


def runtime_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg)
    return Path(tempfile.gettempdir())


def owner_alive(name: str) -> bool:
    """Private dirs are named `ccproxy-jail-<pid>-<random>`; is that ccproxy process still there?"""
    try:
        pid = int(name[len(PRIVATE_PREFIX) :].split("-", 1)[0])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):
        return True
    return True


def sweep_stale(base: Path) -> None:
    """Remove private dirs of jails whose ccproxy was SIGKILLed (no other exit path leaves one)."""
    for entry in base.glob(f"{PRIVATE_PREFIX}*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_uid == os.getuid() and not owner_alive(entry.name):
                shutil.rmtree(entry, ignore_errors=True)


def wireguard_info(state: DaemonInfo) -> tuple[str, int]:
    """The client config text and the listener port of the running daemon."""
    wg = state.extra.get("wireguard") or {}
    listener = state.listeners.get("wireguard")
    path = wg.get("client_config")
    if not path or listener is None:
        raise DaemonError(
            "the running ccproxy daemon has no WireGuard listener (it predates transparent capture); "
            "restart it with `ccproxy start`"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise NamespaceError(f"cannot read the WireGuard client config {path}: {exc.strerror}") from None
    port = int(getattr(listener, "port", 0) or endpoint_port(text))
    return text, port


def local_ports(state: DaemonInfo) -> list[int]:
    """ccproxy's TCP listeners, reachable on the jail's 127.0.0.1 at the same ports."""
    ports = {int(listener.port) for name, listener in state.listeners.items() if name != "wireguard"}
    return sorted(p for p in ports if p > 0)


def unshare_maps_users(unshare: str) -> bool:
    """util-linux >= 2.38 can map the user's own ids in a nested namespace (`--map-user`)."""
    try:
        out = subprocess.run([unshare, "--help"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--map-user" in out


def helper_argv(unshare: str, fd: int) -> list[str]:
    return [
        unshare, "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child",
        "--mount-proc", "--", sys.executable, "-m", "ccproxy.namespace.inside", str(fd),
    ]  # fmt: skip


class Supervisor:
    """One jail's lifetime on the host side."""

    def __init__(
        self, spec: Spec, tools: dict[str, str], options: JailOptions, log_fd: int
    ) -> None:
        self.spec = spec
        self.tools = tools
        self.options = options
        self.log_fd = log_fd
        self.channel: Channel | None = None
        self.helper: asyncio.subprocess.Process | None = None
        self.slirp = Slirp(TOPOLOGY)
        self.ports = HostPorts(self.deliver_inbound)
        self.started = False
        self.returncode: int | None = None
        self.aborted_by: int | None = None
        self.escalation: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    def on_signal(self, signo: int, from_terminal: bool) -> None:
        if not self.started:
            if signo in STOP_SIGNALS:
                self.aborted_by = signo
                self.done.set()
            return
        if from_terminal:
            return  # the terminal sent it to the whole foreground group, the command included
        self.send_soon(Signal(signo))
        if signo in STOP_SIGNALS and self.escalation is None:
            loop = asyncio.get_running_loop()
            self.escalation = loop.call_later(self.options.stop_timeout, self.send_soon, Kill())

    def send_soon(self, message: Message) -> None:
        if self.channel is not None and not self.channel.closed:
            self.spawn(self._send(message))

    async def _send(self, message: Message, fds: list[int] | None = None) -> None:
        if self.channel is not None:
            with contextlib.suppress(ChannelClosed):
                await self.channel.send(message.to_json(), fds)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def deliver_inbound(self, port: int, conn: socket.socket) -> None:
        with conn:
            await self._send(Inbound(port), [conn.fileno()])

    async def connect_for(self, port: int, ident: int) -> None:
        sock = await connect_loopback(port)
        if sock is None:
            await self._send(Connected(ident))
            return
        with sock:
            await self._send(Connected(ident), [sock.fileno()])

    async def run(self, stdout: IO[Any] | int | None) -> int:
        relay = SignalRelay(asyncio.get_running_loop(), self.on_signal)
        relay.start()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.helper = await asyncio.create_subprocess_exec(
                *helper_argv(self.tools["unshare"], child.fileno()), pass_fds=(child.fileno(),), stdout=stdout
            )
            child.close()
            self.channel = Channel(parent)
            await self.converse()
        finally:
            child.close()
            await self.teardown()
            relay.stop()
        if self.aborted_by is not None:
            return 128 + self.aborted_by
        if self.returncode is None:
            raise NamespaceError(
                "the jail's helper exited before the command finished; see the messages above"
            )
        code = self.returncode
        return 128 - code if code < 0 else code

    async def converse(self) -> None:
        """Answer the helper until the command has exited (or set-up failed, or we were told to stop)."""
        receiver = asyncio.ensure_future(self.receive())
        stopper = asyncio.ensure_future(self.done.wait())
        try:
            await asyncio.wait([receiver, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiver, stopper):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        if receiver.done() and not receiver.cancelled() and receiver.exception() is not None:
            raise receiver.exception()  # type: ignore[misc]

    async def receive(self) -> None:
        assert self.channel is not None and self.helper is not None
        try:
            await asyncio.wait_for(self.channel.recv(), HELLO_TIMEOUT)
        except (ChannelClosed, TimeoutError):
            raise NamespaceError(
                "could not create the jail's namespaces with `unshare --user --net --mount --pid`; "
                "check that unprivileged user namespaces are allowed (`ccproxy namespace status`)"
            ) from None
        await self.slirp.start(self.helper.pid, self.tools["slirp4netns"], self.log_fd)
        await self.channel.send(self.spec.to_json())
        while True:
            try:
                raw, fds = await self.channel.recv()
            except ChannelClosed:
                return
            match decode(raw):
                case Started():
                    self.started = True
                case Error(message=text):
                    raise NamespaceError(f"setting up the jail failed: {text}")
                case Exit(returncode=code):
                    self.returncode = int(code)
                    return
                case Connect(port=port, id=ident):
                    self.spawn(self.connect_for(int(port), int(ident)))
                case Listen(port=port):
                    self.ports.open(int(port))
                case Unlisten(port=port):
                    self.ports.close(int(port))
            for fd in fds:
                os.close(fd)

    async def teardown(self) -> None:
        """Close the channel (the helper then kills what is left), reap it, stop slirp4netns."""
        if self.escalation is not None:
            self.escalation.cancel()
        self.ports.close_all()
        for task in list(self.tasks):
            task.cancel()
        if self.channel is not None:
            self.channel.close()
        helper = self.helper
        if helper is not None and helper.returncode is None:
            try:  # a helper still setting up does not read the channel: nothing to wait for
                await asyncio.wait_for(helper.wait(), 5 if self.started else 0.2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    helper.kill()
                await helper.wait()
        await self.slirp.stop()


def build_spec(
    state: DaemonInfo,
    config_dir: Path,
    cmd: list[str],
    options: JailOptions,
    private: Path,
    tools: dict[str, str],
) -> Spec:
    """Everything the helper needs, computed on the host; the private key only travels over the channel."""
    client_conf, port = wireguard_info(state)
    endpoint = f"{TOPOLOGY.gateway}:{port}"
    trust = plan_trust(private, read_ca(config_dir))
    mounts = [*trust.mounts, *plan_resolver(private, options.nameservers)]
    return Spec(
        setconf=setconf_text(client_conf, endpoint, TOPOLOGY.fwmark),
        endpoint=endpoint,
        allow_kernel=kernel_wireguard(),
        mounts=mounts,
        local_ports=local_ports(state),
        cmd=cmd,
        env=trust.env,
        uid=os.getuid(),
        gid=os.getgid(),
        map_user=unshare_maps_users(tools["unshare"]),
        cwd=os.getcwd(),
        log=str(private / "jail.log"),
        tools=tools,
    )


def run_in_jail(
    state: DaemonInfo,
    config_dir: Path,
    cmd: list[str],
    options: JailOptions,
    stdout: IO[Any] | int | None = None,
) -> int:
    """Run `cmd` captured; everything it made is gone when this returns or raises."""
    tools = check_prerequisites()
    if shutil.which(cmd[0]) is None and not os.path.exists(cmd[0]):
        print(f"error: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    base = runtime_dir()
    sweep_stale(base)
    private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-", dir=base))
    try:
        spec = build_spec(state, config_dir, cmd, options, private, tools)
        log_fd = os.open(private / "jail.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            return asyncio.run(Supervisor(spec, tools, options, log_fd).run(stdout))
        except NamespaceError as exc:
            raise NamespaceError(f"{exc}{log_tail(private / 'jail.log')}") from None
        finally:
            os.close(log_fd)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return ("\n  " + "\n  ".join(tail)) if tail else ""


def run_inspect(state: DaemonInfo, config_dir: Path, cmd: list[str]) -> int:
    """`ccproxy run --inspect`: the jail with the config dir's namespace settings."""
    from ccproxy.config.loader import load_config

    config = load_config(config_dir)
    ns = config.namespace
    options = JailOptions(nameservers=list(ns.nameservers), stop_timeout=ns.stop_timeout)
    return run_in_jail(state, config_dir, cmd, options)
