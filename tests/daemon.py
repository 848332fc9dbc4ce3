"""Start a real `ccproxy start` subprocess on free ports for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

#: The real credentials the daemon swaps in; tests assert the fake saw them and that logs never do.
SECRETS = {
    "FAKE_ANTHROPIC_KEY": "sk-fake-anthropic-real-secret-0001",
    "FAKE_OPENAI_KEY": "sk-fake-openai-real-secret-0002",
    "FAKE_GEMINI_KEY": "fake-gemini-real-secret-0003",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll a condition with a bound; fail the test with `what` when it never holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def fake_providers(host: str) -> dict[str, Any]:
    """Providers for every wire format, all pointing at the fake on `host` over plain HTTP."""

    def entry(fmt: str, var: str, **extra: Any) -> dict[str, Any]:
        return {"provider": fmt, "host": host, "scheme": "http", "auth": {"type": "env", "env": var}, **extra}

    return {
        "anthropic": entry("anthropic", "FAKE_ANTHROPIC_KEY"),
        "openai": entry("openai", "FAKE_OPENAI_KEY"),
        "responses": entry("openai_responses", "FAKE_OPENAI_KEY"),
        "gemini": entry("gemini", "FAKE_GEMINI_KEY"),
    }


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class RunningDaemon:
    """A `ccproxy start` subprocess and helpers to talk to it."""

    def __init__(self, config_dir: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.config_dir = config_dir
        self.config = config
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def _listener_port(self, configured: int, listener: str) -> int:
        """The configured port; for port 0 the one the daemon bound, as its state file says."""
        if configured == 0 and (self.config_dir / "ccproxy.state.json").exists():
            return int(self.state["listeners"][listener]["port"])
        return configured

    @property
    def port(self) -> int:
        return self._listener_port(int(self.config["ccproxy"]["port"]), "proxy")

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def inspector_url(self) -> str:
        port = self._listener_port(int(self.config["ccproxy"]["inspector"]["port"]), "inspector")
        return f"http://127.0.0.1:{port}"

    @property
    def state(self) -> dict[str, Any]:
        return json.loads((self.config_dir / "ccproxy.state.json").read_text())

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ccproxy.cli.main", "--config", str(self.config_dir), *args]

    def cli(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=timeout,
            env={**self.env, **(env or {})},
        )

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"ccproxy start exited {self.proc.returncode}:\n{self.log_text()}\n{self.output()}")
        if not (self.config_dir / "ccproxy.state.json").exists():
            return False
        try:
            with urllib.request.urlopen(self.proxy_url + "/health", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 60, new_session: bool = False) -> RunningDaemon:
        """`new_session`: the daemon leads its own process group (a test may kill the whole group)."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(self.config))
        self.out_path = self.config_dir / "daemon.stdout"
        out = self.out_path.open("wb")
        self.proc = subprocess.Popen(self.command("start"), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=new_session)
        wait_for(self._healthy, timeout, 0.05, "ccproxy to become healthy")
        return self

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def restart(self) -> RunningDaemon:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        path = self.config_dir / "ccproxy.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def output(self) -> str:
        path = getattr(self, "out_path", None)
        return path.read_text(errors="replace") if path and path.exists() else ""


def make_daemon(config_dir: Path, fake_host: str | None, config: dict[str, Any] | None = None,
                env: dict[str, str] | None = None) -> RunningDaemon:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "inspector": {"port": free_port()},
        "mcp": {"http": {"port": free_port()}},
        "log_level": "DEBUG",
    }
    if fake_host:
        base["providers"] = fake_providers(fake_host)
    merged = deep_merge(base, config or {})
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CCPROXY_")}
    full_env.update(SECRETS)
    full_env.update(env or {})
    return RunningDaemon(config_dir, {"ccproxy": merged}, full_env)


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "1m") the test mounts itself: a real ENOSPC / SQLITE_FULL without filling
    the machine's disk. Skips the test where it cannot mount (not root)."""
    import pytest

    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
