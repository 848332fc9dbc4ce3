"""`ccproxy start`: run the daemon in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from ccproxy.cli.common import load


def register(sub: Any) -> None:
    p = sub.add_parser("start", help="run the proxy daemon in the foreground (Ctrl-C stops it)")
    p.add_argument("--quiet", action="store_true", help="log only to ccproxy.log, not the terminal")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory, config = load(args)
    from ccproxy.daemon.server import start

    start(config, directory, console=not args.quiet)
    return 0
