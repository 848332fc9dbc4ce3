"""`ccproxy start`: run the daemon in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from ccproxy.cli.common import load


def register(sub: Any) -> None:
    p = sub.add_parser("start", help="run the proxy daemon in the foreground (Ctrl-C stops it)")
    p.add_argument("--quiet", action="store_true", help="log only to ccproxy.log, not the terminal")
    # Ports for this run only (ccproxy.yaml is not written); the env vars CCPROXY_PORT,
    # CCPROXY_INSPECTOR_PORT and CCPROXY_MCP_PORT do the same for every command, flags win.
    p.add_argument("--port", metavar="N", help="reverse-proxy port (overrides ccproxy.port; env CCPROXY_PORT)")
    p.add_argument(
        "--inspector-port", metavar="N", help="mitmweb port (overrides ccproxy.inspector.port; env CCPROXY_INSPECTOR_PORT)"
    )
    p.add_argument("--mcp-port", metavar="N", help="MCP server port (overrides ccproxy.mcp.http.port; env CCPROXY_MCP_PORT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory, config = load(args)
    from ccproxy.daemon.server import start

    start(config, directory, console=not args.quiet)
    return 0
