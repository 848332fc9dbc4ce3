"""The daemon's side: keys and keylogs created private, the TLS keylog installed, keys kept out of logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ccproxy.namespace.listener import RedactPrivateKeys, WireGuardListener, install_tls_keylog
from ccproxy.namespace.wgkeys import load_keys


def test_prepare_makes_private_keys_and_wg_keylog(tmp_path: Path) -> None:
    listener = WireGuardListener(tmp_path, 51999)
    spec = listener.prepare()
    assert spec == f"wireguard:{tmp_path / 'wireguard.json'}@127.0.0.1:51999"
    for name in ("wireguard.json", "wg.keylog"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    keys = load_keys(tmp_path / "wireguard.json")
    assert keys.client_key in (tmp_path / "wg.keylog").read_text()
    assert listener.url == "udp://127.0.0.1:51999"


def test_tls_keylog_is_private_rotated_and_used_by_mitmproxy(tmp_path: Path) -> None:
    from mitmproxy.net import tls

    previous = tls.log_master_secret
    try:
        (tmp_path / "tls.keylog").write_text("old session\n")
        path = install_tls_keylog(tmp_path)
        assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == ""
        assert (tmp_path / "tls.keylog.1").read_text() == "old session\n"
        assert tls.log_master_secret is not None and tls.log_master_secret.filename == path
        tls.log_master_secret(None, b"CLIENT_RANDOM 00 11")  # type: ignore[arg-type]
        assert "CLIENT_RANDOM 00 11" in path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        if tls.log_master_secret is not None:
            tls.log_master_secret.close()
        tls.log_master_secret = previous


def test_private_keys_are_redacted_from_mitmproxys_log(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ccproxy.test.redact")
    logger.addFilter(RedactPrivateKeys())
    with caplog.at_level(logging.INFO, logger="ccproxy.test.redact"):
        logger.info("%s", "[Interface]\nPrivateKey = c2VjcmV0LWtleS1ieXRlcw==\nAddress = 10.0.0.1/32")
    assert "c2VjcmV0LWtleS1ieXRlcw==" not in caplog.text
    assert "PrivateKey = <redacted" in caplog.text and "Address = 10.0.0.1/32" in caplog.text
