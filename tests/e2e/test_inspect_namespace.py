"""`ccproxy namespace status|doctor|wireguard-config` and the WireGuard listener in state/status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.namespace.wgkeys import load_keys, parse_client_config
from tests.daemon import RunningDaemon
from tests.namespace.fixtures import (
    API_NAME,
    UpstreamHost,
    jail_config,
    requires_jail,
    tool_dir,
)

pytestmark = [pytest.mark.namespace, requires_jail]


def test_state_and_status_report_the_wireguard_listener(jail_daemon: RunningDaemon) -> None:
    state = jail_daemon.state
    listener = state["listeners"]["wireguard"]
    assert listener["host"] == "127.0.0.1" and listener["url"] == f"udp://127.0.0.1:{listener['port']}"
    conf_path = Path(state["extra"]["wireguard"]["client_config"])
    assert conf_path.stat().st_mode & 0o777 == 0o600
    done = jail_daemon.cli("status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["wireguard"]["url"] == listener["url"]


def test_status_reports_facts(jail_daemon: RunningDaemon) -> None:
    done = jail_daemon.cli("namespace", "status", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["privacy_claim"] is False
    assert doc["permissive"] is True and doc["mode"] == "permissive"
    assert doc["supported"] is True and doc["missing"] == []
    assert doc["wireguard"]["client_config"]["exists"] is True
    assert doc["wireguard"]["listener"] == jail_daemon.state["listeners"]["wireguard"]["url"]
    expected_backend = "kernel" if Path("/sys/module/wireguard").is_dir() else "wireguard-go"
    assert doc["wireguard"]["backend"] == expected_backend
    assert doc["slirp4netns"] == {
        "tap": "tap0",
        "tap_address": "10.0.2.100/24",
        "gateway": "10.0.2.2",
        "dns": "10.0.2.3",
        "mtu": 65520,
        "host_loopback": doc["slirp4netns"]["host_loopback"],
    }
    for tool in ("unshare", "nsenter", "slirp4netns", "wg"):
        assert doc["tools"][tool] == shutil.which(tool)
    assert doc["tunnel"]["nameservers"] == jail_daemon.config["ccproxy"]["namespace"]["nameservers"]
    assert doc["keylogs"]["tls"]["exists"] and doc["keylogs"]["wg"]["exists"]
    assert "SSL_CERT_FILE" in doc["command"]["ca_env"] and "NODE_EXTRA_CA_CERTS" in doc["command"]["ca_env"]
    text = jail_daemon.cli("namespace", "status")
    assert text.returncode == 0 and "privacy_claim: false" in text.stdout


def test_status_names_a_missing_tool(jail_daemon: RunningDaemon, tmp_path: Path) -> None:
    done = jail_daemon.cli(
        "namespace", "status", "--json", env={"PATH": tool_dir(tmp_path, hide={"slirp4netns"})}
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["tools"]["slirp4netns"] is None
    assert "slirp4netns" in doc["missing"] and doc["supported"] is False


def test_status_and_wireguard_config_before_any_daemon(daemon_factory: Callable[..., RunningDaemon]) -> None:
    fresh = daemon_factory(start=False)
    fresh.config_dir.mkdir(parents=True)
    import yaml

    (fresh.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(fresh.config))
    doc = json.loads(fresh.cli("namespace", "status", "--json").stdout)
    assert doc["daemon_running"] is False
    assert doc["wireguard"]["client_config"]["exists"] is False and doc["wireguard"]["listener"] is None
    done = fresh.cli("namespace", "wireguard-config")
    assert done.returncode == 1
    assert "ccproxy start" in done.stderr
    doctor = fresh.cli("namespace", "doctor", "--json")
    assert doctor.returncode == 1 and "no ccproxy daemon is running" in doctor.stderr


def test_wireguard_config_prints_the_client_config_with_a_warning(jail_daemon: RunningDaemon) -> None:
    done = jail_daemon.cli("namespace", "wireguard-config")
    assert done.returncode == 0, done.stderr
    assert "private key" in done.stderr and "PrivateKey" not in done.stderr
    conf = parse_client_config(done.stdout)
    keys = load_keys(jail_daemon.config_dir / "wireguard.json")
    assert conf["Interface"]["PrivateKey"] == keys.client_key
    assert conf["Peer"]["PublicKey"] == keys.server_public
    port = jail_daemon.state["listeners"]["wireguard"]["port"]
    assert conf["Peer"]["Endpoint"] == f"127.0.0.1:{port}"
    assert keys.client_key not in jail_daemon.log_text()


def test_doctor_passes_against_the_test_hosts(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    done = jail_daemon.cli("namespace", "doctor", "--json", timeout=120)
    report = json.loads(done.stdout)
    assert done.returncode == 0, report
    assert report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {"jail", "dns", "ipv4", "localhost"} and all(c["ok"] for c in checks.values())
    assert test_host.address in checks["dns"]["detail"]
    assert report["ipv6"]["routed"] is False
    assert API_NAME in test_host.dns.queries
    text = jail_daemon.cli("namespace", "doctor", timeout=120)
    assert text.returncode == 0 and "doctor: ok" in text.stdout


def test_doctor_fails_and_names_each_broken_check(
    daemon_factory: Callable[..., RunningDaemon], test_host: UpstreamHost
) -> None:
    config = jail_config(test_host)
    config["namespace"]["doctor"] = {
        "dns_name": "nowhere.ccproxy.test",
        "ipv4_target": f"{test_host.address}:444",
    }
    daemon = daemon_factory(config)
    done = daemon.cli("namespace", "doctor", "--json", timeout=120)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["jail"]["ok"] and checks["localhost"]["ok"]
    assert not checks["dns"]["ok"] and "nowhere.ccproxy.test" in checks["dns"]["hint"]
    assert not checks["ipv4"]["ok"] and f"{test_host.address}:444" in checks["ipv4"]["hint"]
    assert report["ok"] is False
    text = daemon.cli("namespace", "doctor", timeout=120)
    assert text.returncode == 1 and "FAIL" in text.stdout and "hint:" in text.stdout
