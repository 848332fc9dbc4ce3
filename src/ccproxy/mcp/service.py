"""Run the MCP server inside the daemon: same event loop as mitmproxy, its own socket, its own token.

The socket is bound before the master starts, so a busy port is a clear start-up error rather
than a log line; uvicorn serves it as a task of the daemon's loop and never touches the daemon's
signal handlers (SIGINT/SIGTERM stay mitmproxy's; the daemon stops this service on the way out).
The MCP SDK is heavy to import (a third of the daemon's start-up), so the app is built in a
worker thread while the proxy already serves; until it is ready, connections wait in the
socket's backlog. A daemon with `mcp.http.enabled: false` never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import DaemonError
from ccproxy.mcp import MCP_PATH
from ccproxy.mcp.auth import resolve_token
from ccproxy.mcp.notifications import NotificationBuffer
from ccproxy.mcp.status import DaemonFacts

log = logging.getLogger("ccproxy.mcp")

SHUTDOWN_GRACE = 2


def uvicorn_server(app: Any) -> Any:
    """A uvicorn Server for `app` without its signal capture: the daemon owns SIGINT/SIGTERM."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=SHUTDOWN_GRACE, ws="none"
    )
    return Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; a busy port says which setting to change."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        raise DaemonError(
            f"MCP server port {host}:{port} {reason}; stop what holds it, set ccproxy.mcp.http.port, "
            "or turn the server off with ccproxy.mcp.http.enabled: false"
        ) from None
    sock.setblocking(False)
    return sock


#: The mitmproxy command that owns removal from mitmweb's view (`addons/view.py`).
VIEW_REMOVE = "ccproxy.view.remove"


def forget_in_view(master: Any, ids: Sequence[str], everything: bool) -> None:
    """Drop cleared flows from mitmweb's in-memory view through the view's command (flows in flight stay)."""
    if master is None or VIEW_REMOVE not in master.commands.commands:
        return
    master.commands.call(VIEW_REMOVE, ["*"] if everything else list(ids))


class McpService:
    """The MCP server's lifecycle: `prepare` (token, socket) -> `start` (serve) -> `stop`."""

    def __init__(self, config: CCProxyConfig, config_dir: Path, started_at: float | None = None) -> None:
        self.config = config
        self.config_dir = config_dir
        self.started_at = started_at or time.time()
        self.notifications = NotificationBuffer()
        self.token: str | None = None
        self.token_origin = ""
        self.sock: socket.socket | None = None
        self.server: Any = None
        self.task: asyncio.Task[None] | None = None

    @property
    def host(self) -> str:
        return self.config.mcp.http.host

    @property
    def port(self) -> int:
        if self.sock is not None:
            return int(self.sock.getsockname()[1])
        return self.config.mcp.http.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"

    async def prepare(self) -> None:
        """Resolve the token and bind the port; errors here stop the daemon before anything listens."""
        self.token, self.token_origin = await resolve_token(self.config.mcp.http, self.config_dir)
        self.sock = bind(self.host, self.config.mcp.http.port)

    def start(self, listeners: Callable[[], dict[str, str]], master: Any = None) -> None:
        """Serve on the prepared socket as a task of the running loop; returns at once."""
        assert self.token is not None and self.sock is not None, "prepare() first"
        for name in ("mcp", "uvicorn", "sse_starlette", "httpx2"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
        facts = DaemonFacts(self.config, self.config_dir, self.started_at, listeners, self.notifications)
        self.task = asyncio.get_running_loop().create_task(self._serve(facts, master), name="ccproxy-mcp")
        self.task.add_done_callback(self._ended)

    def _build(self, facts: DaemonFacts, master: Any) -> Any:
        from ccproxy.mcp.server import build_app

        assert self.token is not None
        app = build_app(facts, self.token, self.host, lambda ids, every: forget_in_view(master, ids, every))
        return uvicorn_server(app)

    async def _serve(self, facts: DaemonFacts, master: Any) -> None:
        started = time.monotonic()
        self.server = await asyncio.to_thread(self._build, facts, master)
        log.info("MCP server %s ready in %.1fs (token: %s)", self.url, time.monotonic() - started, self.token_origin)
        await self.server.serve(sockets=[self.sock])

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("MCP server stopped: %s", task.exception())
            if self.sock is not None:  # refuse connections rather than keep them waiting in the backlog
                self.sock.close()
                self.sock = None

    async def stop(self) -> None:
        """Ask uvicorn to finish (bounded by its graceful-shutdown timeout), then close the socket."""
        if self.task is not None and self.server is None:
            self.task.cancel()  # still building: nothing is served yet
        elif self.task is not None:
            self.server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self.task), SHUTDOWN_GRACE + 3)
            except (TimeoutError, asyncio.CancelledError):
                self.task.cancel()
            except Exception:
                log.debug("MCP server task ended with an error", exc_info=True)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
