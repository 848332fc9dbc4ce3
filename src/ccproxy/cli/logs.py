"""`ccproxy logs [-f] [-n N]`: show the daemon's log."""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from typing import Any

from ccproxy.cli.common import load
from ccproxy.daemon.logs import log_path
from ccproxy.errors import DaemonError


def register(sub: Any) -> None:
    p = sub.add_parser("logs", help="show ccproxy.log")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="last N lines (default 50)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory, config = load(args)
    path = log_path(directory, config.log_file)
    if not path.exists():
        raise DaemonError(f"no log at {path} yet; start the daemon with `ccproxy start`")
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in deque(fh, maxlen=max(args.lines, 0)):
            sys.stdout.write(line)
        sys.stdout.flush()
        while args.follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)
    return 0
