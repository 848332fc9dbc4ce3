"""A network bind serves the owner's credentials: only with `allow_remote: true`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config.loader import load_config
from ccproxy.config.model import is_loopback_host
from ccproxy.errors import ConfigError


def test_a_network_host_needs_allow_remote(tmp_path: Path) -> None:
    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  host: 0.0.0.0\n")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert "ccproxy.host" in str(refused.value) and "allow_remote: true" in str(refused.value)
    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  host: 0.0.0.0\n  allow_remote: true\n")
    assert load_config(tmp_path).allow_remote is True


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("127.3.4.5", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("myhost.lan", False),
])
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
