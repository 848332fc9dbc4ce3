"""The jail's trust: mitmproxy's CA plus the system CAs, by environment variable and over the system store.

Agents start children with an empty environment (Codex does for its MCP servers), so the variables are
not enough: inside the jail's mount namespace the bundle is also bind-mounted over the system bundle
files, and a copy of the hashed certificate directory gains mitmproxy's CA under its OpenSSL hash name.
"""

from __future__ import annotations

import os
import shutil
import ssl
from dataclasses import dataclass, field
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
#: Directories OpenSSL searches by subject hash (`CApath`).
SYSTEM_HASH_DIRS: tuple[str, ...] = ("/etc/ssl/certs",)

BUNDLE_FILE = "ca-bundle.pem"
CA_FILE = "mitmproxy-ca.pem"
CERTS_DIR = "certs"


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


def subject_hash(ca_pem: str) -> str:
    """OpenSSL's subject-name hash (`openssl x509 -hash`), the file name CApath lookups use."""
    from OpenSSL import crypto

    cert = crypto.load_certificate(crypto.FILETYPE_PEM, ca_pem.encode())
    return f"{cert.subject_name_hash() & 0xFFFFFFFF:08x}"


def trust_targets(
    bundles: tuple[str, ...] = SYSTEM_BUNDLES, hash_dirs: tuple[str, ...] = SYSTEM_HASH_DIRS
) -> list[str]:
    """The system files and directories the jail mounts over (resolved, existing ones only)."""
    dirs = sorted({os.path.realpath(d) for d in hash_dirs if os.path.isdir(d)})
    files = sorted({os.path.realpath(b) for b in bundles if os.path.isfile(b)})
    return [*dirs, *(f for f in files if not any(f.startswith(d + os.sep) for d in dirs))]


@dataclass
class TrustPlan:
    """Files to create in the private dir and the bind mounts (source, target) that install them."""

    bundle: Path
    mounts: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _hash_name(directory: Path, digest: str) -> str:
    n = 0
    while (directory / f"{digest}.{n}").exists() or (directory / f"{digest}.{n}").is_symlink():
        n += 1
    return f"{digest}.{n}"


def _mirror_hash_dir(
    source: Path, target: Path, bundle: Path, bundle_targets: set[str], ca: Path, digest: str
) -> None:
    """`target` = `source`'s entries (links resolved so they survive being mounted over), the bundle, our CA."""
    target.mkdir(mode=0o755)
    for entry in sorted(source.iterdir()):
        real = os.path.realpath(entry)
        dest = target / entry.name
        if real in bundle_targets:
            os.link(bundle, dest)
        elif entry.is_symlink() and not real.startswith(str(source) + os.sep) and os.path.exists(real):
            dest.symlink_to(real)
        elif entry.is_file():
            shutil.copyfile(entry, dest)
    (target / _hash_name(target, digest)).symlink_to(ca)


def plan_trust(
    private_dir: Path,
    ca_pem: str,
    bundles: tuple[str, ...] = SYSTEM_BUNDLES,
    hash_dirs: tuple[str, ...] = SYSTEM_HASH_DIRS,
) -> TrustPlan:
    """Write the bundle and CA into `private_dir`; return what to mount over and what to export."""
    bundle = private_dir / BUNDLE_FILE
    bundle.write_text(combined_bundle(ca_pem, system_bundle_text(bundles)), encoding="utf-8")
    ca = private_dir / CA_FILE
    ca.write_text(ca_pem, encoding="utf-8")
    plan = TrustPlan(bundle=bundle, env={var: str(bundle) for var in CA_ENV_VARS})
    targets = sorted({os.path.realpath(b) for b in bundles if os.path.isfile(b)})
    digest = subject_hash(ca_pem)
    covered: set[str] = set()
    for index, directory in enumerate(sorted({os.path.realpath(d) for d in hash_dirs if os.path.isdir(d)})):
        mirror = private_dir / f"{CERTS_DIR}{index}"
        _mirror_hash_dir(Path(directory), mirror, bundle, set(targets), ca, digest)
        plan.mounts.append((str(mirror), directory))
        covered.update(t for t in targets if t.startswith(directory + os.sep))
    plan.mounts.extend((str(bundle), target) for target in targets if target not in covered)
    return plan
