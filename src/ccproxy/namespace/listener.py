"""The daemon's side of the jail: mitmproxy's WireGuard listener, its client config, and both keylogs."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from ccproxy.fileio import write_private
from ccproxy.namespace.wgkeys import (
    CLIENT_CONFIG_FILE,
    KEYS_FILE,
    WG_KEYLOG_FILE,
    WireGuardKeys,
    client_config,
    ensure_keys,
    wireshark_keylog,
)

log = logging.getLogger("ccproxy.namespace")

TLS_KEYLOG_FILE = "tls.keylog"
#: The jail reaches the host's loopback through slirp4netns, so the listener never needs another address.
LISTEN_HOST = "127.0.0.1"


class RedactPrivateKeys(logging.Filter):
    """mitmproxy logs the WireGuard client config, private key included; keep the key out of ccproxy.log."""

    PATTERN = re.compile(r"(PrivateKey\s*=\s*)\S+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "PrivateKey" in message:
            record.msg = self.PATTERN.sub(
                r"\1<redacted: `ccproxy namespace wireguard-config` prints it>", message
            )
            record.args = ()
        return True


def install_tls_keylog(config_dir: Path) -> Path:
    """Point mitmproxy's TLS secret logger at `tls.keylog` (0600); the previous run's file becomes `.1`.

    mitmproxy reads SSLKEYLOGFILE once at import; its contexts look the logger up on each creation,
    so replacing it before the first TLS context exists covers every intercepted connection.
    """
    from mitmproxy.net import tls

    path = config_dir / TLS_KEYLOG_FILE
    if path.exists() and path.stat().st_size:
        os.replace(path, path.with_name(TLS_KEYLOG_FILE + ".1"))
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.close(fd)
    path.chmod(0o600)
    if tls.log_master_secret is not None:
        tls.log_master_secret.close()
    tls.log_master_secret = tls.MasterSecretLogger(path)
    return path


class WireGuardListener:
    """mitmproxy's `wireguard` mode on loopback, port from config (0: the kernel picks, we read it back)."""

    def __init__(self, config_dir: Path, port: int = 0) -> None:
        self.config_dir = config_dir
        self.keys_path = config_dir / KEYS_FILE
        self.client_config_path = config_dir / CLIENT_CONFIG_FILE
        self.keylog_path = config_dir / WG_KEYLOG_FILE
        self.requested_port = port
        self.port = port
        self.keys: WireGuardKeys | None = None

    def prepare(self) -> str:
        """Make the keys (0600) and `wg.keylog`; return the mitmproxy mode spec to add."""
        self.keys = ensure_keys(self.keys_path)
        write_private(self.keylog_path, wireshark_keylog(self.keys).encode())
        mode_log = logging.getLogger("mitmproxy.proxy.mode_servers")
        if not any(isinstance(f, RedactPrivateKeys) for f in mode_log.filters):
            mode_log.addFilter(RedactPrivateKeys())
        return f"wireguard:{self.keys_path}@{LISTEN_HOST}:{self.requested_port}"

    def started(self, master: Any) -> None:
        """Read back the bound port and write the client config (0600) the jail and `wireguard-config` use."""
        server = next(
            (s for s in master.addons.get("proxyserver").servers if s.mode.type_name == "wireguard"), None
        )
        if server is not None and server.listen_addrs:
            self.port = int(server.listen_addrs[0][1])
        if self.keys is None:
            self.keys = ensure_keys(self.keys_path)
        write_private(
            self.client_config_path, client_config(self.keys, f"{LISTEN_HOST}:{self.port}").encode()
        )

    @property
    def url(self) -> str:
        return f"udp://{LISTEN_HOST}:{self.port}"

    def state_extra(self, tls_keylog: Path) -> dict[str, Any]:
        return {
            "wireguard": {
                "client_config": str(self.client_config_path),
                "keys": str(self.keys_path),
                "server_public_key": self.keys.server_public if self.keys else None,
            },
            "keylogs": {"tls": str(tls_keylog), "wg": str(self.keylog_path)},
        }
