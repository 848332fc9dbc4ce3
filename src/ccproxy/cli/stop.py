"""`ccproxy stop`: end the daemon of this config dir (SIGTERM, then a bounded wait for it to let go)."""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any

from ccproxy.cli.common import resolve_dir
from ccproxy.errors import DaemonError

STOP_TIMEOUT = 20.0
POLL = 0.05


def register(sub: Any) -> None:
    p = sub.add_parser(
        "stop",
        help="stop the daemon of this config dir (exit 1 when none runs)",
        description="Send SIGTERM to the daemon that holds this config dir's lock and wait until it has "
        "exited. Exit 0 once it is gone; 1 when no daemon runs or it does not stop in time.",
    )
    p.add_argument(
        "--timeout", type=float, default=STOP_TIMEOUT, metavar="S", help=f"seconds to wait (default {STOP_TIMEOUT:g})"
    )
    p.set_defaults(func=run)


def wait_gone(config_dir: Any, deadline: float) -> bool:
    """True once no process holds the daemon lock; the lock, not the pid, says the daemon is gone."""
    from ccproxy.daemon.state import lock_holder

    while lock_holder(config_dir) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def wait_exited(pid: int, deadline: float) -> bool:
    """True once process `pid` is gone: the lock is let go before the interpreter has finished exiting."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # it exists (or its pid was reused by someone else's process): keep waiting, bounded
        if _zombie(pid):
            return True  # exited; only its parent's wait is pending (a supervisor, a test harness)
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False  # no /proc (macOS): kill(pid, 0) alone decides
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def run(args: argparse.Namespace) -> int:
    from ccproxy.daemon.state import lock_holder

    directory = resolve_dir(args)
    deadline = time.monotonic() + max(args.timeout, 0.0)
    pid = lock_holder(directory)
    while pid == 0 and time.monotonic() < deadline:  # still starting: its pid is written in a moment
        time.sleep(POLL)
        pid = lock_holder(directory)
    if pid is None:
        raise DaemonError(f"no ccproxy daemon is running for config dir {directory}; nothing to stop")
    if pid == 0:
        raise DaemonError(f"the ccproxy daemon for {directory} is starting and has not written its pid; try again")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it exited just now; the wait below confirms the lock is free
    except PermissionError:
        raise DaemonError(f"not allowed to stop the ccproxy daemon (pid {pid}) for {directory}") from None
    if not (wait_gone(directory, deadline) and wait_exited(pid, deadline)):
        raise DaemonError(
            f"the ccproxy daemon (pid {pid}) for {directory} did not stop within {args.timeout:g}s; "
            f"see `ccproxy logs`, or end it with `kill -KILL {pid}`"
        )
    print(f"stopped the ccproxy daemon (pid {pid}) for {directory}")
    return 0
