"""WireGuard keys, the client config mitmproxy would print, `wg setconf` text, Wireshark's keylog format."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from ccproxy.errors import NamespaceError
from ccproxy.namespace.wgkeys import (
    WireGuardKeys,
    client_config,
    endpoint_port,
    ensure_keys,
    genkey,
    load_keys,
    parse_client_config,
    pubkey,
    setconf_text,
    wireshark_keylog,
)


def test_genkey_is_clamped_curve25519() -> None:
    raw = base64.b64decode(genkey())
    assert len(raw) == 32 and raw[0] & 7 == 0 and raw[31] & 0x80 == 0 and raw[31] & 0x40


@pytest.mark.skipif(shutil.which("wg") is None, reason="wireguard-tools not installed")
def test_pubkey_matches_wg_pubkey() -> None:
    private = genkey()
    expected = subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, check=True)
    assert pubkey(private) == expected.stdout.strip()


def test_mitmproxy_accepts_our_keys() -> None:
    import mitmproxy_rs

    keys = WireGuardKeys(genkey(), genkey())
    assert mitmproxy_rs.wireguard.pubkey(keys.client_key) == keys.client_public


def test_ensure_keys_creates_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "wireguard.json"
    first = ensure_keys(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    assert ensure_keys(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_bad_keys_file_says_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "wireguard.json"
    path.write_text('{"server_key": "nope"}')
    with pytest.raises(NamespaceError, match="delete it and restart"):
        load_keys(path)


def test_client_config_round_trips_and_setconf_drops_wg_quick_keys() -> None:
    keys = WireGuardKeys(genkey(), genkey())
    conf = client_config(keys, "127.0.0.1:51820")
    parsed = parse_client_config(conf)
    assert parsed["Interface"] == {
        "PrivateKey": keys.client_key,
        "Address": "10.0.0.1/32",
        "DNS": "10.0.0.53",
    }
    assert (
        parsed["Peer"]["PublicKey"] == keys.server_public and parsed["Peer"]["Endpoint"] == "127.0.0.1:51820"
    )
    assert endpoint_port(conf) == 51820
    text = setconf_text(conf, "10.0.2.2:51820", fwmark=51820)
    setconf = parse_client_config(text)
    assert "Address" not in setconf["Interface"] and "DNS" not in setconf["Interface"]
    assert setconf["Interface"]["FwMark"] == "51820"
    assert setconf["Peer"]["Endpoint"] == "10.0.2.2:51820" and setconf["Peer"]["AllowedIPs"] == "0.0.0.0/0"


def test_config_without_keys_is_refused() -> None:
    with pytest.raises(NamespaceError):
        parse_client_config("[Interface]\nAddress = 10.0.0.1/32\n")


def test_wireshark_keylog_has_both_static_pairs() -> None:
    keys = WireGuardKeys(genkey(), genkey())
    lines = wireshark_keylog(keys).splitlines()
    assert f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}" in lines
    assert f"LOCAL_STATIC_PRIVATE_KEY = {keys.client_key}" in lines
    assert f"REMOTE_STATIC_PUBLIC_KEY = {keys.client_public}" in lines
    assert f"REMOTE_STATIC_PUBLIC_KEY = {keys.server_public}" in lines
