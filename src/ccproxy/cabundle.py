"""A CA bundle a client trusts ccproxy by: mitmproxy's CA plus the system CAs, and every environment
variable common runtimes read it from. A shared leaf: the jail (`namespace/`) and forward-proxy mode
(`forward/`) both hand it to a child, and neither room imports the other for it.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from ccproxy.errors import NamespaceError

#: Every variable a common runtime or tool reads for its CA file; all point at the combined bundle.
CA_ENV_VARS: tuple[str, ...] = (
    "SSL_CERT_FILE",  # OpenSSL, Python ssl, httpx, Go, Ruby, uv
    "NODE_EXTRA_CA_CERTS",  # Node (added to its built-in roots), Bun
    "REQUESTS_CA_BUNDLE",  # requests
    "CURL_CA_BUNDLE",  # curl, requests
    "CODEX_CA_CERTIFICATE",  # OpenAI Codex CLI
    "GIT_SSL_CAINFO",  # git
    "AWS_CA_BUNDLE",  # AWS SDKs and CLI (Bedrock)
    "CARGO_HTTP_CAINFO",  # cargo
    "DENO_CERT",  # Deno
    "PIP_CERT",  # pip
    "HTTPLIB2_CA_CERTS",  # httplib2 (Google API clients)
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",  # gRPC core (Python, Node, C++)
    "NIX_SSL_CERT_FILE",  # Nix-built tools
    "NPM_CONFIG_CAFILE",  # npm
)

#: CA bundle files distributions ship; whichever exist are covered by the bind mounts.
SYSTEM_BUNDLES: tuple[str, ...] = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # Alpine, Arch
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/usr/lib/ssl/cert.pem",  # OpenSSL's compiled-in default on Debian
)

def read_ca(config_dir: Path) -> str:
    path = config_dir / "mitmproxy-ca-cert.pem"
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise NamespaceError(
            f"cannot read mitmproxy's CA certificate {path} ({exc.strerror}); it appears when `ccproxy start` "
            "runs for this config dir"
        ) from None
    if "BEGIN CERTIFICATE" not in text:
        raise NamespaceError(
            f"{path} holds no PEM certificate; delete the mitmproxy-ca* files and restart ccproxy"
        )
    return text


def system_bundle_text(bundles: tuple[str, ...] = SYSTEM_BUNDLES) -> str:
    """The first system bundle that exists, else Python's default CA file, else nothing."""
    candidates = [*bundles, ssl.get_default_verify_paths().cafile or ""]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return Path(candidate).read_text(encoding="utf-8", errors="replace")
    return ""


def combined_bundle(ca_pem: str, system_pem: str) -> str:
    return ca_pem.rstrip("\n") + "\n" + (system_pem.rstrip("\n") + "\n" if system_pem.strip() else "")
