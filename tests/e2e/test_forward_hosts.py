"""The hosts list of a `run --proxy` child (every host it contacted, decrypted or tunnelled, with counts)
and the forward proxy's allow-list, which refuses other hosts and lists them as refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import RunningDaemon, make_daemon
from tests.e2e.test_forward import OTHER_IP, PROVIDER_IP, Hosts, chat_body, hosts, https_providers

__all__ = ["hosts"]  # the module-scoped TLS hosts fixture, shared with test_forward.py


def proxied_daemon(tmp: Path, h: Hosts, **forward: Any) -> RunningDaemon:
    config = {"inspector": {"upstream_ca": str(h.ca.pem_path), "forward": forward},
              "providers": https_providers(h.provider_host)}
    return make_daemon(tmp, None, config, {}).start()


@pytest.fixture
def open_daemon(tmp_path: Path, hosts: Hosts) -> Iterator[RunningDaemon]:
    daemon = proxied_daemon(tmp_path / "open", hosts)
    yield daemon
    daemon.stop()


@pytest.fixture
def allow_daemon(tmp_path: Path, hosts: Hosts) -> Iterator[RunningDaemon]:
    daemon = proxied_daemon(tmp_path / "allow", hosts, allow_hosts=["*.example.invalid"])
    yield daemon
    daemon.stop()


def script(h: Hosts, marker: str) -> str:
    other = f"curl -sS --max-time 20 --cacert {h.ca.pem_path} {h.other_url}/json?m={marker}"
    provider = (f"curl -sS --max-time 20 https://{h.provider_host}/v1/chat/completions -H "
                f"'authorization: Bearer sk-ant-oat-ccproxy-openai' -d '{chat_body(marker)}'")
    return f"{other}; echo other=$?; {provider}; echo provider=$?"


def test_run_proxy_lists_every_host_the_child_contacted(open_daemon: RunningDaemon, hosts: Hosts,
                                                          tmp_path: Path) -> None:
    out_file = tmp_path / "hosts.json"
    done = open_daemon.cli("run", "--proxy", "--hosts-json", str(out_file), "--", "sh", "-c",
                           script(hosts, uuid.uuid4().hex), timeout=90)
    assert done.returncode == 0, done.stderr
    assert "other=0" in done.stdout and "provider=0" in done.stdout
    listed = {h["host"]: h for h in json.loads(out_file.read_text())}
    assert listed[OTHER_IP]["tunnelled"] == 1 and "decrypted" not in listed[OTHER_IP]
    assert listed[PROVIDER_IP]["decrypted"] == 1 and listed[PROVIDER_IP]["count"] == 1
    assert "ccproxy: hosts contacted: " in done.stderr and f"{OTHER_IP} (1 tunnelled)" in done.stderr


def test_allow_list_refuses_and_records_other_hosts(allow_daemon: RunningDaemon, hosts: Hosts, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    out_file = tmp_path / "hosts.json"
    done = allow_daemon.cli("run", "--proxy", "--hosts-json", str(out_file), "--", "sh", "-c",
                            script(hosts, marker), timeout=90)
    assert "other=0" not in done.stdout and "provider=0" in done.stdout  # the provider's host is always allowed
    assert not any(marker in r.path for r in hosts.other.requests)  # nothing reached the other host
    listed = {h["host"]: h for h in json.loads(out_file.read_text())}
    assert listed[OTHER_IP]["refused"] == 1 and listed[PROVIDER_IP]["decrypted"] == 1
    assert f"{OTHER_IP} (1 refused)" in done.stderr
    assert "not in inspector.forward.allow_hosts" in allow_daemon.log_text()
