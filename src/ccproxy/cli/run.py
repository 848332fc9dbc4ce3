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
    """Run CMD in the foreground; signals sent to ccproxy go to it and its exit status becomes ours.

    CMD shares our process group, so a signal the terminal raises (Ctrl-C, si_code SI_KERNEL) has
    already reached it: only signals sent to ccproxy itself (`kill`, SI_USER) are relayed, or an
    agent CLI would see every Ctrl-C twice.
    """
    from ccproxy.namespace.sigrelay import RELAYED, SI_KERNEL, default_dispositions

    if shutil.which(cmd[0], path=env.get("PATH")) is None and not os.path.exists(cmd[0]):
        print(f"error: command not found: {cmd[0]}", file=sys.stderr)
        return 127
    waited = {*RELAYED, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, waited)

    def in_child() -> None:
        default_dispositions()  # a relayed SIGINT must not meet a SIG_IGN inherited from the shell
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    try:
        try:
            child = subprocess.Popen(cmd, env=env, preexec_fn=in_child)
        except PermissionError:
            print(f"error: permission denied: {cmd[0]}", file=sys.stderr)
            return 126
        except FileNotFoundError:
            print(f"error: command not found: {cmd[0]}", file=sys.stderr)
            return 127
        while child.poll() is None:
            info = signal.sigtimedwait(waited, 1.0)
            if info is not None and info.si_signo != signal.SIGCHLD and info.si_code != SI_KERNEL:
                child.send_signal(info.si_signo)
        code = child.returncode
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
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
