"""Fixtures for jail tests: a test host in its own network namespace and a daemon that trusts its CA.

Import the fixtures into a test module (`from tests.namespace.fixtures import ...`). Creating the
test host's namespace and veth needs root; the jail under test itself does not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ccproxy.namespace.tools import find_tools, missing_tools
from tests.daemon import RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import FakeProvider
from tests.namespace.certs import ScratchCA
from tests.namespace.dns import DnsServer
from tests.namespace.testnet import HostNetns
from tests.namespace.upstream import Upstream

API_NAME = "api.ccproxy.test"
OTHER_NAME = "untrusted.ccproxy.test"


def jail_skip_reason() -> str | None:
    if sys.platform != "linux":
        return "the jail needs Linux"
    missing = [t.name for t in missing_tools(find_tools())]
    if missing:
        return f"jail tools missing: {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.geteuid() != 0:
        return "creating the test hosts' network namespaces needs root"
    return None


requires_jail = pytest.mark.skipif(jail_skip_reason() is not None, reason=jail_skip_reason() or "")


@dataclass
class UpstreamHost:
    """An HTTPS host (h1+h2+SSE) and a DNS server at 10.213.N.2 in a namespace of its own."""

    net: HostNetns
    ca: ScratchCA
    upstream: Upstream
    untrusted: Upstream
    dns: DnsServer

    @property
    def address(self) -> str:
        return self.net.address

    @property
    def url(self) -> str:
        return f"https://{API_NAME}"

    def close(self) -> None:
        self.upstream.close()
        self.untrusted.close()
        self.dns.close()
        self.net.close()


@pytest.fixture(scope="session")
def test_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamHost]:
    reason = jail_skip_reason()
    if reason:
        pytest.skip(reason)
    net = HostNetns()
    try:
        ca = ScratchCA(tmp_path_factory.mktemp("test-ca"))
        cert, key = ca.issue("api", [API_NAME], [net.address])
        rogue = ScratchCA(tmp_path_factory.mktemp("rogue-ca"))
        rogue_cert, rogue_key = rogue.issue("untrusted", [OTHER_NAME], [net.address])
        upstream = Upstream(net.socket(socket.AF_INET, socket.SOCK_STREAM, (net.address, 443)), cert, key)
        untrusted = Upstream(
            net.socket(socket.AF_INET, socket.SOCK_STREAM, (net.address, 8443)), rogue_cert, rogue_key
        )
        dns = DnsServer(
            net.socket(socket.AF_INET, socket.SOCK_DGRAM, (net.address, 53)),
            {API_NAME: net.address, OTHER_NAME: net.address},
        )
    except BaseException:
        net.close()
        raise
    host = UpstreamHost(net, ca, upstream, untrusted, dns)
    yield host
    host.close()


def jail_config(host: UpstreamHost, **namespace: Any) -> dict[str, Any]:
    """A daemon config for jail tests against `host` (see `jail_settings`)."""
    return jail_settings(host.ca.pem_path, host.address, **namespace)


def jail_settings(ca_pem: Path, address: str, **namespace: Any) -> dict[str, Any]:
    """Trust the test CA upstream, resolve through the test host's DNS, probe the test host."""
    return {
        "inspector": {"upstream_ca": str(ca_pem)},
        "namespace": {
            "nameservers": [address],
            "doctor": {"dns_name": API_NAME, "ipv4_target": f"{address}:443"},
            **namespace,
        },
    }


@pytest.fixture(scope="module")
def jail_daemon(
    tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider, test_host: UpstreamHost
) -> Iterator[RunningDaemon]:
    """One daemon per module, trusting the test host's CA and resolving through its DNS."""
    daemon = make_daemon(
        tmp_path_factory.mktemp("jail"),
        _fake_session.host,
        jail_config(test_host, stop_timeout=2),
    )
    daemon.start(timeout=60)
    yield daemon
    daemon.stop()


def flows_json(daemon: RunningDaemon, *jq: str) -> list[dict[str, Any]]:
    import json

    args = ["flows", "list", "--json"]
    for f in jq:
        args += ["--jq", f]
    done = daemon.cli(*args)
    assert done.returncode == 0, done.stderr
    flows: list[dict[str, Any]] = json.loads(done.stdout)
    return flows


def wait_flow(daemon: RunningDaemon, path: str, timeout: float = 15) -> dict[str, Any]:
    """The newest recorded flow whose request path starts with `path` (flows are written asynchronously)."""

    def find() -> dict[str, Any] | None:
        hits = [f for f in flows_json(daemon) if str(f["request"]["path"]).startswith(path)]
        return hits[-1] if hits else None

    found: dict[str, Any] = wait_for(find, timeout, 0.1, f"a recorded flow for {path}")
    return found


# --- processes and files a jail leaves behind (or must not) ---


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, cmdline) for every live descendant of `root`."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid, start = int(entry.name), int(fields[1]), fields[19]
        children.setdefault(ppid, []).append(pid)
        info[pid] = (start, cmdline)
    found: dict[int, tuple[str, str]] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found[child] = info[child]
            stack.append(child)
    return found


def still_running(snapshot: dict[int, tuple[str, str]]) -> list[str]:
    """Which of the snapshotted processes still exist (same pid and start time)."""
    alive = []
    for pid, (start, cmdline) in snapshot.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2 :].split()[19] == start:
            alive.append(f"{pid} {cmdline}")
    return alive


def private_dirs(pid: int) -> list[Path]:
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
    if not (base.is_dir() and os.access(base, os.W_OK)):
        base = Path("/tmp")
    import tempfile

    roots = {base, Path(tempfile.gettempdir())}
    return [p for root in roots for p in root.glob(f"ccproxy-jail-{pid}-*")]


def netns_holders(netns: str) -> list[int]:
    """Processes (anywhere on the machine) still inside the network namespace `net:[inode]`."""
    holders = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "net") == netns:
                    holders.append(int(entry.name))
            except OSError:
                continue
    return holders


@dataclass
class JailSnapshot:
    """What one live jail consists of, taken while its command runs."""

    processes: dict[int, tuple[str, str]]
    netns: str
    private: list[Path]
    command_pid: int

    def leftovers(self) -> list[str]:
        left = still_running(self.processes)
        left += [f"netns {self.netns} held by pid {pid}" for pid in netns_holders(self.netns)]
        left += [f"private dir {p}" for p in self.private if p.exists()]
        return left


class JailRun:
    """`ccproxy run --inspect -- CMD` as a live subprocess with line-buffered stdout."""

    def __init__(
        self,
        daemon: RunningDaemon,
        cmd: list[str],
        env: dict[str, str] | None = None,
        stdin: bool = False,
        prefix: list[str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            [*(prefix or []), *daemon.command("run", "--inspect", "--", *cmd)],
            env={**daemon.env, **(env or {})},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._pending = ""

    def snapshot(self, marker: str) -> JailSnapshot:
        """Wait until the jail is complete (helper, wireguard-go, slirp4netns, the command) and record it."""

        def complete() -> dict[int, tuple[str, str]] | None:
            found = descendants(self.proc.pid)
            needles = ("ccproxy.namespace.inside", "wireguard-go", "slirp4netns", marker)
            if all(any(n in cmd for _s, cmd in found.values()) for n in needles):
                return found
            return None

        processes = wait_for(complete, 60, 0.05, "the jail to be complete")
        helper = next(pid for pid, (_s, cmd) in processes.items() if "ccproxy.namespace.inside" in cmd)
        command = max(pid for pid, (_s, cmd) in processes.items() if marker in cmd)
        return JailSnapshot(
            processes, os.readlink(f"/proc/{helper}/ns/net"), private_dirs(self.proc.pid), command
        )

    def read_until(self, marker: str, timeout: float = 60) -> str:
        """Read stdout until a line contains `marker`, bounded by `timeout` (raw reads: no hidden buffer)."""
        import selectors

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                while "\n" in self._pending:
                    line, self._pending = self._pending.split("\n", 1)
                    self.lines.append(line + "\n")
                    if marker in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self._pending += chunk.decode(errors="replace")
        raise AssertionError(
            f"no {marker!r} from the jailed command; got {self.lines!r}; {self.stderr_now()}"
        )

    def stderr_now(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def wait(self, timeout: float = 60) -> tuple[int, str, str]:
        if self.proc.stdin is not None and self.proc.stdin.closed:
            self.proc.stdin = None
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "".join(self.lines) + self._pending + out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def tool_dir(tmp_path: Path, hide: set[str], fakes: dict[str, str] | None = None) -> str:
    """A PATH of symlinks to this machine's tools minus `hide`, plus fake scripts by name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wanted = {
        "unshare", "nsenter", "slirp4netns", "ip", "wg", "wireguard-go", "sh", "env", "python3",
        "curl", "sleep", "cat", "mount", "true", "readlink", "mv",
    }  # fmt: skip
    for name in wanted - hide:
        found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if found:
            (bin_dir / name).symlink_to(found)
    for name, script in (fakes or {}).items():
        path = bin_dir / name
        path.write_text(script)
        path.chmod(0o755)
    return str(bin_dir)
