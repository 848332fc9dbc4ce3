"""`inspector.forward`: on by default on a port of its own, validated like every other listener port."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config.loader import load_config
from ccproxy.config.model import CCProxyConfig, listener_ports
from ccproxy.errors import ConfigError


def test_defaults_on_loopback_on_a_free_port() -> None:
    fwd = CCProxyConfig().inspector.forward
    assert (fwd.enabled, fwd.host, fwd.port, fwd.intercept_hosts) == (True, "127.0.0.1", 0, [])
    assert ("inspector.forward.port", 0) in listener_ports(CCProxyConfig())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inspector: {forward: {port: 70000}}", "ccproxy.inspector.forward.port: 70000 is not a port"),
        ("inspector: {forward: {port: '4080'}}", "ccproxy.inspector.forward.port: '4080' is not a port"),
        ("port: 4080\n  inspector: {forward: {port: 4080}}", "ccproxy.inspector.forward.port: 4080 is also ccproxy.port"),
        ("inspector: {forward: {hosts: []}}", "ccproxy.inspector.forward.hosts: unknown key"),
    ],
)
def test_bad_forward_settings_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "ccproxy.yaml").write_text(f"ccproxy:\n  {text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert message in str(err.value)


def test_a_disabled_forward_listener_frees_its_port(tmp_path: Path) -> None:
    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  port: 4080\n  inspector: {forward: {enabled: false, port: 4080}}\n")
    assert load_config(tmp_path).inspector.forward.enabled is False
