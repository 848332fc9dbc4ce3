"""The host side's pure parts: what it reads from the daemon's state, its argv, stale private dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ccproxy.daemon.state import Listener
from ccproxy.errors import DaemonError
from ccproxy.namespace.jail import (
    PRIVATE_PREFIX,
    helper_argv,
    local_ports,
    owner_alive,
    sweep_stale,
    unshare_maps_users,
    wireguard_info,
)
from ccproxy.namespace.wgkeys import WireGuardKeys, client_config, genkey


def state(tmp_path: Path, with_wireguard: bool = True) -> SimpleNamespace:
    listeners = {
        "proxy": Listener("http://127.0.0.1:4000", "127.0.0.1", 4000),
        "inspector": Listener("http://127.0.0.1:8083", "127.0.0.1", 8083),
        "mcp": Listener("http://127.0.0.1:4030", "127.0.0.1", 4030),
    }
    extra: dict[str, object] = {}
    if with_wireguard:
        conf = tmp_path / "wireguard-client.conf"
        conf.write_text(client_config(WireGuardKeys(genkey(), genkey()), "127.0.0.1:51111"))
        listeners["wireguard"] = Listener("udp://127.0.0.1:51111", "127.0.0.1", 51111)
        extra["wireguard"] = {"client_config": str(conf)}
    return SimpleNamespace(listeners=listeners, extra=extra)


def test_wireguard_info_and_local_ports(tmp_path: Path) -> None:
    info = state(tmp_path)
    text, port = wireguard_info(info)
    assert port == 51111 and "PrivateKey" in text
    assert local_ports(info) == [4000, 4030, 8083]


def test_a_daemon_without_wireguard_is_told_to_restart(tmp_path: Path) -> None:
    with pytest.raises(DaemonError, match="restart it with `ccproxy start`"):
        wireguard_info(state(tmp_path, with_wireguard=False))


def test_helper_runs_in_all_four_namespaces() -> None:
    argv = helper_argv("/usr/bin/unshare", 7)
    for flag in ("--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child"):
        assert flag in argv
    assert argv[-4:] == [sys.executable, "-m", "ccproxy.namespace.inside", "7"]


def test_unshare_version_detection(tmp_path: Path) -> None:
    old = tmp_path / "unshare"
    old.write_text("#!/bin/sh\necho ' -r, --map-root-user  map current user to root'\n")
    old.chmod(0o755)
    assert unshare_maps_users(str(old)) is False
    new = tmp_path / "unshare-new"
    new.write_text("#!/bin/sh\necho ' --map-user=<uid>|<name>  map current user to uid'\n")
    new.chmod(0o755)
    assert unshare_maps_users(str(new)) is True


def test_sweep_removes_only_dirs_of_dead_ccproxies(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{PRIVATE_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{PRIVATE_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated"
    for d in (stale, live, other):
        d.mkdir()
        (d / "ca-bundle.pem").write_text("x")
    assert owner_alive(live.name) and not owner_alive(stale.name)
    sweep_stale(tmp_path)
    assert not stale.exists() and live.exists() and other.exists()
