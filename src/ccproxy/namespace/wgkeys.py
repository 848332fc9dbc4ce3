"""WireGuard key material: the keys file mitmproxy reads, the client config, the Wireshark keylog."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ccproxy.errors import NamespaceError
from ccproxy.fileio import write_private

KEYS_FILE = "wireguard.json"
CLIENT_CONFIG_FILE = "wireguard-client.conf"
WG_KEYLOG_FILE = "wg.keylog"
CLIENT_ADDRESS = "10.0.0.1/32"


def genkey() -> str:
    """A private key as `wg genkey` makes it: 32 random bytes, clamped for Curve25519, base64."""
    raw = bytearray(X25519PrivateKey.generate().private_bytes_raw())
    raw[0] &= 248
    raw[31] = (raw[31] & 127) | 64
    return base64.b64encode(bytes(raw)).decode()


def pubkey(private: str) -> str:
    try:
        raw = base64.b64decode(private, validate=True)
        key = X25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise NamespaceError(f"invalid WireGuard private key: {exc}") from None
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


@dataclass(frozen=True)
class WireGuardKeys:
    """mitmproxy's keys file: the server's and the (one) client's private key."""

    server_key: str
    client_key: str

    @property
    def server_public(self) -> str:
        return pubkey(self.server_key)

    @property
    def client_public(self) -> str:
        return pubkey(self.client_key)

    def to_json(self) -> str:
        return json.dumps({"server_key": self.server_key, "client_key": self.client_key}, indent=4) + "\n"


def load_keys(path: Path) -> WireGuardKeys:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        keys = WireGuardKeys(server_key=doc["server_key"], client_key=doc["client_key"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NamespaceError(
            f"cannot read the WireGuard keys file {path}: {exc}; delete it and restart `ccproxy start` to make a new one"
        ) from None
    keys.server_public, keys.client_public  # noqa: B018 - validate both keys early
    return keys


def ensure_keys(path: Path) -> WireGuardKeys:
    """Load the keys file, creating it 0600 first; mitmproxy would create it world-readable."""
    if not path.exists():
        keys = WireGuardKeys(server_key=genkey(), client_key=genkey())
        write_private(path, keys.to_json().encode())
        return keys
    path.chmod(0o600)
    return load_keys(path)


def client_config(keys: WireGuardKeys, endpoint: str, dns: str = "10.0.0.53") -> str:
    """The client config, in wg-quick format, that mitmproxy itself would print."""
    return (
        "[Interface]\n"
        f"PrivateKey = {keys.client_key}\n"
        f"Address = {CLIENT_ADDRESS}\n"
        f"DNS = {dns}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {keys.server_public}\n"
        "AllowedIPs = 0.0.0.0/0\n"
        f"Endpoint = {endpoint}\n"
    )


def parse_client_config(text: str) -> dict[str, dict[str, str]]:
    """Sections of a wg-quick file as {"Interface": {...}, "Peer": {...}} (one peer, as mitmproxy writes)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif "=" in line and current is not None:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    if "PrivateKey" not in sections.get("Interface", {}) or "PublicKey" not in sections.get("Peer", {}):
        raise NamespaceError("the WireGuard client config has no [Interface] PrivateKey or [Peer] PublicKey")
    return sections


def setconf_text(client_conf: str, endpoint: str, fwmark: int, keepalive: int = 25) -> str:
    """What `wg setconf` takes: no wg-quick keys (Address, DNS), the endpoint as the jail reaches it."""
    sections = parse_client_config(client_conf)
    interface, peer = sections["Interface"], sections["Peer"]
    return (
        "[Interface]\n"
        f"PrivateKey = {interface['PrivateKey']}\n"
        f"FwMark = {fwmark}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {peer['PublicKey']}\n"
        f"AllowedIPs = {peer.get('AllowedIPs', '0.0.0.0/0')}\n"
        f"Endpoint = {endpoint}\n"
        f"PersistentKeepalive = {keepalive}\n"
    )


def endpoint_port(client_conf: str) -> int:
    endpoint = parse_client_config(client_conf)["Peer"].get("Endpoint", "")
    try:
        return int(endpoint.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise NamespaceError(f"the WireGuard client config has no usable Endpoint ({endpoint!r})") from None


def wireshark_keylog(keys: WireGuardKeys) -> str:
    """Both static key pairs in Wireshark's `wg.keylog_file` format.

    With these Wireshark decrypts the handshake (who the initiator is); the transport data also needs an
    ephemeral private key, which neither wireguard-go nor mitmproxy exports.
    """
    return (
        f"LOCAL_STATIC_PRIVATE_KEY = {keys.server_key}\n"
        f"REMOTE_STATIC_PUBLIC_KEY = {keys.client_public}\n"
        f"LOCAL_STATIC_PRIVATE_KEY = {keys.client_key}\n"
        f"REMOTE_STATIC_PUBLIC_KEY = {keys.server_public}\n"
    )
