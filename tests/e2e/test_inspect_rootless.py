"""The jail needs no privilege: `ccproxy run --inspect` with every capability dropped still captures.

The suite runs as root (its test hosts need `ip netns`), so the jail is started under `setpriv` with an
empty bounding set. One capability stays, CAP_SETFCAP: since Linux 5.12 only it lets uid 0 map itself
into a new user namespace, a step an ordinary user (mapping uid 1000) does not need at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.daemon import RunningDaemon
from tests.namespace.fixtures import JailRun, UpstreamHost, requires_jail, wait_flow

pytestmark = [
    pytest.mark.namespace,
    requires_jail,
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed"),
]

CAP_SETFCAP = 1 << 31
CAPLESS = ["setpriv", "--bounding-set", "-all,+setfcap", "--inh-caps", "-all", "--"]


def cap_eff(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("CapEff")).split()[1], 16)


def test_capless_setpriv_really_drops_privilege() -> None:
    done = subprocess.run(
        [*CAPLESS, "sh", "-c", "grep CapEff /proc/self/status; ip link add ccpt-probe type dummy"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert int(done.stdout.split()[-1], 16) == CAP_SETFCAP
    assert done.returncode != 0 and "Operation not permitted" in done.stderr


def test_jail_works_without_capabilities(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    marker = uuid.uuid4().hex
    cmd = [
        "sh",
        "-c",
        f"echo READY {marker}; read go; curl -sS --max-time 20 '{test_host.url}/json?rootless={marker}'",
    ]
    jail = JailRun(jail_daemon, cmd, stdin=True, prefix=CAPLESS)
    try:
        jail.read_until("READY")
        snap = jail.snapshot(marker)
        slirp = next(pid for pid, (_s, c) in snap.processes.items() if "slirp4netns" in c)
        assert cap_eff(jail.proc.pid) == CAP_SETFCAP  # ccproxy itself
        assert cap_eff(slirp) == CAP_SETFCAP  # the host side of the jail's network
        assert jail.proc.stdin is not None
        jail.proc.stdin.write("go\n")
        jail.proc.stdin.close()
        code, out, err = jail.wait()
    finally:
        jail.kill()
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["path"] == f"/json?rootless={marker}"
    assert wait_flow(jail_daemon, f"/json?rootless={marker}")["ccproxy"]["source"] == "wireguard"
    assert snap.leftovers() == []
