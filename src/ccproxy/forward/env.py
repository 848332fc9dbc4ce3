"""The environment `ccproxy run --proxy` gives its child: proxy variables with the credential, and trust."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ccproxy.cabundle import CA_ENV_VARS, combined_bundle, read_ca, system_bundle_text

#: Proxy variables, in both spellings: curl reads only lowercase `http_proxy`, Go and Python read both.
PROXY_VARS: tuple[str, ...] = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
#: Loopback stays direct: the daemon's own listeners and local services must not loop through the proxy.
NO_PROXY = "localhost,127.0.0.1,::1"
BUNDLE_FILE = "forward-ca-bundle.pem"


def proxy_env(proxy_url: str, bundle: Path) -> dict[str, str]:
    """Every variable a child needs to send its traffic through the forward proxy and trust its CA."""
    env: dict[str, str] = {}
    for var in PROXY_VARS:
        env[var] = env[var.lower()] = proxy_url
    env["NO_PROXY"] = env["no_proxy"] = NO_PROXY
    # Node ignores the proxy variables unless told otherwise (Node >= 24.5 honors this switch).
    env["NODE_USE_ENV_PROXY"] = "1"
    env.update({var: str(bundle) for var in CA_ENV_VARS})
    return env


def write_bundle(config_dir: Path) -> Path:
    """mitmproxy's CA plus the system CAs in one file in the config dir, replaced atomically.

    A stable file (not a temporary one) so that processes the child leaves behind keep working after
    `ccproxy run` returns; it holds only public certificates.
    """
    text = combined_bundle(read_ca(config_dir), system_bundle_text())
    path = config_dir / BUNDLE_FILE
    fd, tmp = tempfile.mkstemp(prefix=".forward-ca-", dir=config_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
