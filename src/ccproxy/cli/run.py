"""`ccproxy run [--inspect] -- CMD ...`: run a client with its traffic going through ccproxy."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from ccproxy.cli.common import resolve_dir
from ccproxy.daemon.state import RuntimeState, require_state
from ccproxy.errors import UsageError

FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a command with SDK base URLs pointing at ccproxy (--inspect: capture everything)",
        description="Run CMD with ANTHROPIC_BASE_URL, OPENAI_BASE_URL, OPENAI_API_BASE and "
        "GOOGLE_GEMINI_BASE_URL pointing at the running daemon. With --inspect, CMD runs in a rootless "
        "network namespace whose only route is a WireGuard tunnel into ccproxy.",
    )
    p.add_argument("--inspect", action="store_true", help="transparent capture through the namespace jail")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run")
    p.set_defaults(func=run)


def base_url_env(state: RuntimeState) -> dict[str, str]:
    url = state.proxy_url.rstrip("/")
    return {
        "ANTHROPIC_BASE_URL": url,
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_BASE": f"{url}/v1",
        "GOOGLE_GEMINI_BASE_URL": url,
    }


def run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run CMD in the foreground; signals go to it and its exit status becomes ours."""
    if shutil.which(cmd[0], path=env.get("PATH")) is None and not os.path.exists(cmd[0]):
        print(f"error: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    try:
        child = subprocess.Popen(cmd, env=env)
    except PermissionError:
        print(f"error: permission denied: {cmd[0]}", file=sys.stderr)
        return 126
    except FileNotFoundError:
        print(f"error: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    previous = {sig: signal.signal(sig, lambda s, _f: child.send_signal(s)) for sig in FORWARDED_SIGNALS}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("nothing to run; usage: ccproxy run [--inspect] -- CMD [ARGS...]")
    directory = resolve_dir(args)
    state = require_state(directory)
    if args.inspect:
        from ccproxy.namespace.jail import run_inspect

        return run_inspect(state, directory, cmd)
    env = {**os.environ, **base_url_env(state)}
    return run_child(cmd, env)
