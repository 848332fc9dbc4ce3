"""Shared bench plumbing: the fake provider in its own process, a ccproxy daemon, a load loop."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.daemon import SECRETS, fake_providers, free_port  # noqa: E402


def wait_until(fn: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.01)


def http_ok(url: str, token: str | None = None) -> bool:
    """A plain GET; urllib, because `httpx.get` builds a TLS context per call (~40 ms) that would count
    as the daemon's start-up."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=1) as resp:
            return bool(resp.status == 200)
    except (OSError, ValueError):
        return False


class FakeProcess:
    """The fake provider in a child process, so the load generator does not share its GIL."""

    def __init__(self, **knobs: Any) -> None:
        self.port = free_port()
        settings = "".join(f"f.{k} = {v!r}\n" for k, v in knobs.items())
        code = (
            f"import sys, threading\nsys.path.insert(0, {str(ROOT)!r})\n"
            f"from tests.fakes.provider import FakeProvider\nf = FakeProvider(port={self.port})\n"
            f"{settings}f.start()\nthreading.Event().wait()\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code])
        wait_until(lambda: http_ok(f"{self.url}/v1/models"), 15, "the fake provider")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def compile_sources() -> None:
    """Byte-compile ccproxy's own sources, as any first run does where PYTHONDONTWRITEBYTECODE is
    unset (uv compiles only the installed dependencies), so start-up is measured warm."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True,
                   stdout=subprocess.DEVNULL)


class Daemon:
    """`ccproxy start` on free ports, configured to reach the fake."""

    def __init__(self, fake_host: str, extra: dict[str, Any] | None = None, src: Path | None = None,
                 python: str | None = None) -> None:
        """`src`: another checkout whose code the daemon runs (a baseline side by side), else this one;
        `python`: another interpreter (a baseline checkout's venv)."""
        self.dir = Path(tempfile.mkdtemp(prefix="ccproxy-bench-"))
        self.port, self.web_port = free_port(), free_port()
        cfg: dict[str, Any] = {
            "port": self.port,
            "inspector": {"port": self.web_port},
            "mcp": {"http": {"port": free_port()}},
            "log_level": "WARNING",
            "providers": fake_providers(fake_host),
        }
        cfg.update(extra or {})
        (self.dir / "ccproxy.yaml").write_text(yaml.safe_dump({"ccproxy": cfg}))
        env = {**os.environ, **SECRETS, **({"PYTHONPATH": str(src / "src")} if src else {})}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "ccproxy.cli.main", "--config", str(self.dir), "start", "--quiet"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self) -> str | None:
        import json

        try:
            return str(json.loads((self.dir / "ccproxy.state.json").read_text())["web_token"])
        except (OSError, ValueError, KeyError):
            return None

    def healthy(self) -> bool:
        token = self.token()
        return bool(token) and http_ok(self.url + "/health") and http_ok(
            f"http://127.0.0.1:{self.web_port}/flows", token
        )

    def wait_healthy(self) -> float:
        wait_until(self.healthy, 120, "ccproxy to become healthy")
        return time.monotonic() - self.started

    def rss_mb(self) -> float:
        """The daemon's RSS plus its children's (the flow-store writer process)."""
        return sum(_rss_mb(pid) for pid in [self.proc.pid, *_children(self.proc.pid)])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(len(data) * p))] * 1000 if data else float("nan")

    def line(self, label: str) -> str:
        return f"{label:<26} {self.requests:>6} req  {self.rps:>8.1f} req/s  p50 {self.pct(0.5):7.2f} ms  p99 {self.pct(0.99):7.2f} ms"


async def _load(url: str, headers: dict[str, str], body: dict[str, Any], concurrency: int,
                total: int, max_seconds: float) -> LoadResult:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.monotonic() + max_seconds
    counter = iter(range(total))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                resp = await client.post(url, headers=headers, json=body)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise SystemExit(f"bench: {url} answered {resp.status_code}: {resp.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return LoadResult(len(latencies), elapsed, latencies)


def load(url: str, headers: dict[str, str], body: dict[str, Any], concurrency: int, total: int,
         max_seconds: float = 60.0) -> LoadResult:
    # Warm up connections and code paths first; they are not counted.
    asyncio.run(_load(url, headers, body, concurrency, concurrency * 4, 10))
    return asyncio.run(_load(url, headers, body, concurrency, total, max_seconds))


def median_wall(cmd: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000
