"""`inspector.upstream_ca`: extra CAs mitmproxy trusts upstream, on top of (not instead of) the public ones."""

from __future__ import annotations

import os
from pathlib import Path

from ccproxy.errors import ConfigError

UPSTREAM_BUNDLE_FILE = "upstream-ca-bundle.pem"


def upstream_bundle(config_dir: Path, extra: str) -> str:
    """certifi's roots plus the configured PEM, as one file for `ssl_verify_upstream_trusted_ca`.

    mitmproxy replaces its default roots with whatever that option names; combining keeps real
    providers verifiable while a private CA (a test host, a corporate gateway) is trusted as well.
    """
    import certifi

    path = Path(extra).expanduser()
    try:
        extra_pem = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"ccproxy.inspector.upstream_ca: cannot read {path} ({exc.strerror}); point it at a PEM file of CA certificates"
        ) from None
    if "BEGIN CERTIFICATE" not in extra_pem:
        raise ConfigError(f"ccproxy.inspector.upstream_ca: {path} holds no PEM certificate")
    roots = Path(certifi.where()).read_text(encoding="utf-8")
    bundle = config_dir / UPSTREAM_BUNDLE_FILE
    tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}")
    tmp.write_text(roots.rstrip("\n") + "\n" + extra_pem.rstrip("\n") + "\n", encoding="utf-8")
    os.replace(tmp, bundle)
    return str(bundle)
