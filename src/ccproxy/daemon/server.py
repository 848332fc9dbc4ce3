"""`ccproxy start`: one in-process mitmproxy master with the reverse listener and mitmweb."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import signal
import socket
import time
from pathlib import Path
from typing import Any

from ccproxy import __version__
from ccproxy.config.model import CCProxyConfig, listener_ports
from ccproxy.daemon import authview
from ccproxy.daemon.chain import build_chain, build_services
from ccproxy.daemon.logs import log_path, setup_logging
from ccproxy.daemon.state import (
    DaemonLock,
    Listener,
    RuntimeState,
    lock_holder,
    remove_state,
    state_path,
    write_state,
)
from ccproxy.errors import DaemonError
from ccproxy.forward.credential import ProxyCredential
from ccproxy.mcp.service import McpService
from ccproxy.mitm import install_all
from ccproxy.mitm.dispatch import HookTable
from ccproxy.namespace.listener import LISTEN_HOST, WireGuardListener, install_tls_keylog
from ccproxy.namespace.upstream import upstream_bundle

log = logging.getLogger("ccproxy.daemon")

UNROUTED_TARGET = "http://unrouted.ccproxy.invalid"


def check_port_free(host: str, port: int, what: str, key: str, kind: int = socket.SOCK_STREAM) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as sock:
        # Like the listener itself: a restart must not trip over the old process's TIME_WAIT
        # connections, while a port another socket listens on still fails.
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = (
                "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            )
            raise DaemonError(
                f"{what} port {host}:{port} {reason}; stop what holds it or set {key} in ccproxy.yaml"
            ) from None


def free_port(host: str, kind: int = socket.SOCK_STREAM, avoid: set[int] | None = None) -> int:
    """A port the kernel says is free now, never one in `avoid` (the configured listeners' ports,
    still free only because their listeners are not bound yet: picking one made two listeners collide)."""
    avoid = avoid or set()
    for _ in range(64):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            avoid.add(port)
            return port
    raise DaemonError(f"no free port on {host} outside {sorted(avoid)[:8]}...; set the ports in ccproxy.yaml")


def web_password_hash(token: str) -> str:
    """mitmweb accepts an argon2 hash, so the plain token never sits in mitmproxy's options."""
    import argon2

    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return str(hasher.hash(token))


class Daemon:
    """Owns the master, the state file and the services hooks share."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.web_token = secrets.token_urlsafe(24)
        # With allow_remote, clients from other machines send this (x-ccproxy-token); kept in the state file.
        self.remote_token = secrets.token_urlsafe(24) if config.allow_remote else None
        self.master: Any = None
        self.started_at = time.time()
        # mitmweb's server socket is out of reach once bound, so port 0 is resolved here; the reverse
        # listener's real port is read back from mitmproxy once it listens (see `proxy_port`).
        taken = {port for _, port in listener_ports(config) if port}  # free_port adds what it picks
        self.web_port = config.inspector.port or free_port(config.host, avoid=taken)
        self.proxy_port = config.port
        wg_port = config.inspector.wireguard_port or free_port(LISTEN_HOST, socket.SOCK_DGRAM, taken)
        self.wireguard = WireGuardListener(config_dir, wg_port)
        self.mcp = McpService(config, config_dir, self.started_at) if config.mcp.http.enabled else None
        fwd = config.inspector.forward
        self.forward_credential = ProxyCredential.generate() if fwd.enabled else None
        # Resolved here like mitmweb's: mitmproxy refuses two listeners on the same "host:0".
        self.forward_port = (fwd.port or free_port(fwd.host, avoid=taken)) if fwd.enabled else 0

    def preflight(self) -> None:
        c = self.config
        check_port_free(c.host, c.port, "reverse proxy", "ccproxy.port")
        check_port_free(c.host, self.web_port, "inspector (mitmweb)", "ccproxy.inspector.port")
        check_port_free(
            LISTEN_HOST, c.inspector.wireguard_port, "WireGuard", "ccproxy.inspector.wireguard_port", socket.SOCK_DGRAM
        )
        if self.mcp is not None:
            check_port_free(c.mcp.http.host, c.mcp.http.port, "MCP server", "ccproxy.mcp.http.port")
        if c.inspector.forward.enabled:
            fwd = c.inspector.forward
            check_port_free(fwd.host, fwd.port, "forward proxy", "ccproxy.inspector.forward.port")

    def listeners(self) -> dict[str, Listener]:
        c = self.config
        return {
            "proxy": Listener(f"http://{c.host}:{self.proxy_port}", c.host, self.proxy_port),
            "inspector": Listener(f"http://{c.host}:{self.web_port}", c.host, self.web_port),
            "wireguard": Listener(self.wireguard.url, LISTEN_HOST, self.wireguard.port),
            **self._mcp_listener(),
            **self._forward_listener(),
        }

    def _forward_listener(self) -> dict[str, Listener]:
        """The URL here carries no credential: `status` prints listeners; `run --proxy` adds it from the state."""
        if self.forward_credential is None:
            return {}
        host = self.config.inspector.forward.host
        return {"forward": Listener(f"http://{host}:{self.forward_port}", host, self.forward_port)}

    def _mcp_listener(self) -> dict[str, Listener]:
        if self.mcp is None:
            return {}
        return {"mcp": Listener(self.mcp.url, self.mcp.host, self.mcp.port)}

    def build_master(self) -> Any:
        from mitmproxy import options
        from mitmproxy.tools.web.master import WebMaster

        c = self.config
        opts = options.Options()
        master = WebMaster(opts, with_termlog=False)
        from ccproxy.addons import hosts
        from ccproxy.addons.live import LiveFlows
        from ccproxy.addons.quota import QuotaWatch
        from ccproxy.viewer.web import install as install_viewer

        listeners = {k: v.url for k, v in self.listeners().items()}
        services = build_services(c, self.config_dir, self.mcp.notifications if self.mcp is not None else None)
        chain = build_chain(c, self.config_dir, services, listeners, self.forward_credential, self.remote_token)
        in_flight = next((a.flows for a in chain if isinstance(a, LiveFlows)), None)
        quota = next((a.latest for a in chain if isinstance(a, QuotaWatch)), None)
        install_viewer(master.app, c, self.config_dir, in_flight, quota)  # the session viewer at /ccproxy/ (same token)
        host_log = next((a for a in chain if isinstance(a, hosts.HostLog)), None)
        if host_log is not None:
            hosts.install(master, host_log)  # GET /ccproxy/api/hosts: what `run` prints at its end
        HookTable.install(master.addons)
        master.addons.add(*chain, _Lifecycle(self))
        updates: dict[str, Any] = {
            "mode": [f"reverse:{UNROUTED_TARGET}@{c.host}:{c.port}"],
            "confdir": str(self.config_dir),
            "connection_strategy": "lazy",
            "keep_host_header": True,
            "store_streamed_bodies": True,
            "tcp_timeout": c.inspector.idle_timeout,
            "web_host": c.host,
            "web_port": self.web_port,
            "web_open_browser": False,
            "web_password": web_password_hash(self.web_token),
        }
        if c.inspector.upstream_ca:
            updates["ssl_verify_upstream_trusted_ca"] = upstream_bundle(self.config_dir, c.inspector.upstream_ca)
        updates["mode"].append(self.wireguard.prepare())
        if self.forward_credential is not None:
            updates["mode"].append(f"regular@{c.inspector.forward.host}:{self.forward_port}")
        self.tls_keylog = install_tls_keylog(self.config_dir)
        master.options.update(**updates)
        authview.install(master, c, services.resolver)
        self.services = services
        self.listener_urls = listeners
        return master

    def bound_proxy_port(self, kind: str = "reverse", configured: int | None = None) -> int:
        """The port a listener really bound (the configured one, unless that was 0)."""
        proxyserver: Any = self.master.addons.get("proxyserver")
        for server in proxyserver.servers:
            if server.mode.type_name == kind and server.listen_addrs:
                return int(server.listen_addrs[0][1])
        return self.config.port if configured is None else configured

    def on_running(self) -> None:
        self.proxy_port = self.bound_proxy_port()
        if self.forward_credential is not None:
            self.forward_port = self.bound_proxy_port("regular", self.forward_port)
        self.listener_urls.update({k: v.url for k, v in self.listeners().items()})
        self.wireguard.started(self.master)
        if self.mcp is not None:
            # Built only now: importing the MCP SDK alongside the master's start-up slowed both (GIL).
            # Its socket is already bound, so an early client waits in the backlog, not refused.
            self.mcp.start(lambda: {k: v.url for k, v in self.listeners().items()}, self.master)
        state = RuntimeState(
            pid=os.getpid(),
            version=__version__,
            started_at=self.started_at,
            config_dir=str(self.config_dir),
            listeners=self.listeners(),
            web_token=self.web_token,
            mcp_token=self.mcp.token if self.mcp is not None else None,
            extra={**self.wireguard.state_extra(self.tls_keylog), **self._forward_extra(),
                   **({"remote_token": self.remote_token} if self.remote_token else {})},
        )
        write_state(self.config_dir, state)
        for ca in self.config_dir.glob("mitmproxy-ca*.p*"):
            ca.chmod(0o600)
        log.info(
            "ccproxy %s ready: proxy %s, inspector %s (config dir %s)",
            __version__,
            state.listeners["proxy"].url,
            state.listeners["inspector"].url,
            self.config_dir,
        )
        log.info("WireGuard listener %s; keylogs: %s, %s", self.wireguard.url, self.tls_keylog, self.wireguard.keylog_path)
        if "forward" in state.listeners:
            log.info("forward proxy %s (`ccproxy run --proxy`; credential in the state file)", state.listeners["forward"].url)

    def _forward_extra(self) -> dict[str, Any]:
        """`run --proxy` reads the credential from the (0600) state file, never from the command line."""
        cred = self.forward_credential
        if cred is None:
            return {}
        return {"forward_proxy": {"username": cred.username, "password": cred.password}}

    async def run(self) -> None:
        self.preflight()
        install_all()  # every process-wide patch of mitmproxy (mitm/)
        if self.mcp is not None:
            await self.mcp.prepare()
        self.master = self.build_master()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.master.shutdown)
        try:
            await self.master.run()
        finally:
            if self.mcp is not None:
                await self.mcp.stop()
            remove_state(self.config_dir, os.getpid())
            log.info("ccproxy stopped")


class _Lifecycle:
    """Writes the state file once every listener is up."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def running(self) -> None:
        self.daemon.on_running()


def already_runs(config_dir: Path, pid: int | None) -> DaemonError:
    who = f"pid {pid}" if pid else "starting up"
    return DaemonError(
        f"a ccproxy daemon ({who}) already runs for {config_dir}; stop it with `ccproxy stop` "
        f"(same config dir), or see it with `ccproxy status`"
    )


def start(config: CCProxyConfig, config_dir: Path, console: bool = True) -> None:
    """Run the daemon in the foreground until SIGINT/SIGTERM; the config dir's lock is held throughout."""
    config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = DaemonLock(config_dir)
    if not lock.acquire():
        raise already_runs(config_dir, lock_holder(config_dir))
    try:
        # Whatever state file is here now was left by a daemon that died without cleaning up.
        state_path(config_dir).unlink(missing_ok=True)
        setup_logging(
            log_path(config_dir, config.log_file), config.log_level, console=console,
            max_bytes=config.log_max_bytes, backups=config.log_backups,
        )
        daemon = Daemon(config, config_dir)
        asyncio.run(daemon.run())
    finally:
        lock.release()
