"""The jail's trust: mitmproxy's CA plus the system CAs, by environment variable and over the system store.

Agents start children with an empty environment (Codex does for its MCP servers), so the variables are
not enough: inside the jail's mount namespace the bundle is also bind-mounted over the system bundle
files, and a copy of the hashed certificate directory gains mitmproxy's CA under its OpenSSL hash name.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ccproxy.cabundle import CA_ENV_VARS, SYSTEM_BUNDLES, combined_bundle, system_bundle_text

#: Directories OpenSSL searches by subject hash (`CApath`).
SYSTEM_HASH_DIRS: tuple[str, ...] = ("/etc/ssl/certs",)

BUNDLE_FILE = "ca-bundle.pem"
CA_FILE = "mitmproxy-ca.pem"
CERTS_DIR = "certs"


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
