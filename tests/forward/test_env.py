"""The child's environment under `run --proxy`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ccproxy.cabundle import CA_ENV_VARS
from ccproxy.errors import NamespaceError
from ccproxy.forward.env import NO_PROXY, proxy_env, write_bundle

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_every_proxy_and_ca_variable_is_set(tmp_path: Path) -> None:
    env = proxy_env("http://u:p@127.0.0.1:1", tmp_path / "b.pem")
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        assert env[var] == env[var.lower()] == "http://u:p@127.0.0.1:1"
    assert env["NO_PROXY"] == env["no_proxy"] == NO_PROXY
    assert all(env[var] == str(tmp_path / "b.pem") for var in CA_ENV_VARS)


def test_bundle_holds_mitmproxys_ca_first(tmp_path: Path) -> None:
    (tmp_path / "mitmproxy-ca-cert.pem").write_text(PEM)
    path = write_bundle(tmp_path)
    assert path.read_text().startswith(PEM)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".forward-ca-")] == []


def test_bundle_without_ca_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NamespaceError, match="ccproxy start"):
        write_bundle(tmp_path)
