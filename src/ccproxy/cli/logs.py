"""`ccproxy logs [-f] [-n N]`: show the daemon's log, across its rotated copies."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

from ccproxy.cli.common import load
from ccproxy.daemon.logs import log_files, log_path
from ccproxy.errors import DaemonError


def register(sub: Any) -> None:
    p = sub.add_parser("logs", help="show ccproxy.log")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="last N lines (default 50)")
    p.set_defaults(func=run)


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of the log, reaching into `ccproxy.log.1`, ... when the current file is short."""
    lines: list[str] = []
    for part in reversed(log_files(path)):
        if len(lines) >= count:
            break
        with part.open("r", encoding="utf-8", errors="replace") as fh:
            lines = list(deque(fh, maxlen=max(count - len(lines), 0))) + lines
    return lines


def _rotated(path: Path, fh: IO[str]) -> bool:
    """The daemon renamed the file `fh` reads to `.1` (or it was truncated): reopen by name."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    then = os.fstat(fh.fileno())
    return (now.st_ino, now.st_dev) != (then.st_ino, then.st_dev) or now.st_size < fh.tell()


def follow(path: Path, fh: IO[str]) -> None:
    while True:
        line = fh.readline()
        if line:
            sys.stdout.write(line)
            sys.stdout.flush()
        elif _rotated(path, fh):
            fh.close()
            fh = path.open("r", encoding="utf-8", errors="replace")
        else:
            time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    directory, config = load(args)
    path = log_path(directory, config.log_file)
    if not path.exists():
        raise DaemonError(f"no log at {path} yet; start the daemon with `ccproxy start`")
    sys.stdout.writelines(last_lines(path, args.lines))
    sys.stdout.flush()
    if args.follow:
        fh = path.open("r", encoding="utf-8", errors="replace")
        fh.seek(0, os.SEEK_END)
        follow(path, fh)
    return 0
