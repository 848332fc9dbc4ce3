"""`ccproxy run [--inspect] -- CMD ...`: run a client with its traffic going through ccproxy."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ccproxy.cli.common import resolve_dir
from ccproxy.daemon.state import RuntimeState, require_state
from ccproxy.errors import DaemonError, NamespaceError, UsageError

#: Appended to a failed `--inspect` set-up: the forward proxy needs neither namespaces nor TUN.
PROXY_HINT = (
    "\n  Without the jail, `ccproxy run --proxy -- CMD` captures clients that honor HTTPS_PROXY "
    "(most SDKs and agent CLIs) through the daemon's forward proxy."
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a command with SDK base URLs pointing at ccproxy (--inspect: capture everything)",
        description="Run CMD with ANTHROPIC_BASE_URL, OPENAI_BASE_URL, OPENAI_API_BASE and "
        "GOOGLE_GEMINI_BASE_URL pointing at the running daemon; a key variable CMD's SDK needs "
        "(ANTHROPIC_API_KEY, OPENAI_API_KEY, CODEX_API_KEY, GEMINI_API_KEY) that is unset gets the sentinel "
        "of a provider with a credential, and gemini-cli gets the API-key auth type. With --inspect, CMD runs in a rootless "
        "network namespace whose only route is a WireGuard tunnel into ccproxy. With --proxy, CMD gets "
        "HTTPS_PROXY/HTTP_PROXY/ALL_PROXY pointing at the daemon's forward proxy and trusts its CA.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--inspect", action="store_true", help="transparent capture through the namespace jail")
    mode.add_argument(
        "--proxy",
        action="store_true",
        help="capture through the daemon's forward proxy (HTTPS_PROXY and CA variables; no namespaces needed)",
    )
    p.add_argument("--hosts-json", metavar="FILE", default=None,
                   help="--proxy/--inspect: also write the hosts the command contacted to FILE (JSON)")
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


#: gemini-cli picks its "gateway" auth type when GOOGLE_GEMINI_BASE_URL is set and then rejects it
#: ("Invalid auth method selected.", exit 41). System *defaults* rank below every settings file the
#: user has, so this only decides for a HOME that chose nothing yet.
GEMINI_CLI_DEFAULTS = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
GEMINI_CLI_DEFAULTS_FILE = "gemini-cli-defaults.json"


def gemini_cli_env(config_dir: Path, environ: dict[str, str]) -> dict[str, str]:
    """GEMINI_CLI_SYSTEM_DEFAULTS_PATH at a defaults file in the config dir, unless the user set one."""
    if environ.get("GEMINI_CLI_SYSTEM_DEFAULTS_PATH"):
        return {}
    import json

    path = config_dir / GEMINI_CLI_DEFAULTS_FILE
    text = json.dumps(GEMINI_CLI_DEFAULTS, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return {"GEMINI_CLI_SYSTEM_DEFAULTS_PATH": str(path)}


def client_env(directory: Path, state: RuntimeState, environ: dict[str, str]) -> dict[str, str]:
    """Base URLs, a sentinel for each key variable left unset, and what gemini-cli needs besides."""
    from ccproxy.auth.client_keys import client_key_env
    from ccproxy.config.loader import load_config

    keys = client_key_env(load_config(directory), environ)
    return {**environ, **base_url_env(state), **keys, **gemini_cli_env(directory, environ)}


def forward_env(state: RuntimeState, config_dir: Path) -> dict[str, str]:
    """Proxy URL with the daemon's credential (from the 0600 state file), loopback direct, CA trusted."""
    from ccproxy.forward.credential import ProxyCredential
    from ccproxy.forward.env import proxy_env, write_bundle

    listener = state.listeners.get("forward")
    secret = state.extra.get("forward_proxy")
    if listener is None or not isinstance(secret, dict):
        raise DaemonError(
            f"the daemon for {config_dir} runs no forward proxy; set ccproxy.inspector.forward.enabled: true "
            "in ccproxy.yaml and restart it (`ccproxy stop`, `ccproxy start`)"
        )
    credential = ProxyCredential(str(secret["username"]), str(secret["password"]))
    return proxy_env(credential.url(listener.host, listener.port), write_bundle(config_dir))


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
        except OSError as exc:  # not an executable this system can run (a stub, another architecture)
            print(f"error: cannot run {cmd[0]}: {exc.strerror}", file=sys.stderr)
            return 126
        while child.poll() is None:
            info = signal.sigtimedwait(waited, 1.0)
            if info is not None and info.si_signo != signal.SIGCHLD and info.si_code != SI_KERNEL:
                child.send_signal(info.si_signo)
        code = child.returncode
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 128 - code if code < 0 else code


def hosts_since(state: RuntimeState, since: float) -> list[dict[str, Any]]:
    """The hosts the daemon saw captured clients contact since `since` (its `/ccproxy/api/hosts`)."""
    import json
    import urllib.request

    url = f"{state.listeners['inspector'].url}/ccproxy/api/hosts?since={since}"
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {state.web_token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        hosts: list[dict[str, Any]] = json.load(resp)["hosts"]
    return hosts


def report_hosts(state: RuntimeState, since: float, json_path: str | None) -> None:
    """After a captured run: every host it contacted, and how (decrypted, tunnelled, plain, refused)."""
    import json

    try:
        hosts = hosts_since(state, since)
    except (OSError, ValueError, KeyError) as exc:
        print(f"ccproxy: could not list the hosts contacted ({exc})", file=sys.stderr)
        return
    if json_path:
        Path(json_path).write_text(json.dumps(hosts, indent=2) + "\n")
    if hosts:
        kinds = ("decrypted", "tunnelled", "plain", "refused")
        print("ccproxy: hosts contacted: " + ", ".join(
            f"{h['host']} ({', '.join(f'{h[k]} {k}' for k in kinds if h.get(k))})" for h in hosts), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("nothing to run; usage: ccproxy run [--inspect | --proxy] -- CMD [ARGS...]")
    directory = resolve_dir(args)
    state = require_state(directory)
    import time

    started = time.time()
    if args.inspect:
        from ccproxy.namespace.jail import run_inspect

        try:
            code = run_inspect(state, directory, cmd)
        except NamespaceError as exc:
            raise NamespaceError(f"{exc}{PROXY_HINT}") from None
        report_hosts(state, started, getattr(args, "hosts_json", None))
        return code
    if getattr(args, "proxy", False):
        code = run_child(cmd, {**os.environ, **forward_env(state, directory)})
        report_hosts(state, started, getattr(args, "hosts_json", None))
        return code
    return run_child(cmd, client_env(directory, state, dict(os.environ)))
