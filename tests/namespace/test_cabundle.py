"""The jail's trust: the combined bundle, the variables, and the mirrored hashed directory."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from ccproxy.cabundle import CA_ENV_VARS, read_ca
from ccproxy.errors import NamespaceError
from ccproxy.namespace.cabundle import plan_trust, subject_hash, trust_targets
from tests.namespace.certs import ScratchCA


@pytest.fixture
def ca(tmp_path: Path) -> ScratchCA:
    return ScratchCA(tmp_path / "ca")


def fake_system(tmp_path: Path, other: ScratchCA) -> tuple[Path, Path]:
    """A Debian-like store: a bundle file and a hashed dir with links to certificate files elsewhere."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "Other_Root.crt").write_bytes(other.pem_path.read_bytes())
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca-certificates.crt").write_bytes(other.pem_path.read_bytes())
    (certs / "Other_Root.pem").symlink_to(share / "Other_Root.crt")
    (certs / f"{subject_hash(other.pem_path.read_text())}.0").symlink_to("Other_Root.pem")
    return certs / "ca-certificates.crt", certs


def test_subject_hash_matches_openssl(ca: ScratchCA) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    out = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(ca.pem_path)], capture_output=True, text=True
    )
    assert subject_hash(ca.pem_path.read_text()) == out.stdout.strip()


def test_plan_mirrors_the_hash_dir_and_mounts_the_bundle(tmp_path: Path, ca: ScratchCA) -> None:
    other = ScratchCA(tmp_path / "other", "some public root")
    bundle_file, hash_dir = fake_system(tmp_path, other)
    private = tmp_path / "private"
    private.mkdir()
    plan = plan_trust(
        private, ca.pem_path.read_text(), bundles=(str(bundle_file),), hash_dirs=(str(hash_dir),)
    )
    mirror = private / "certs0"
    assert plan.mounts == [(str(mirror), str(hash_dir))]  # the bundle file is inside the mirrored dir
    assert plan.env == {var: str(plan.bundle) for var in CA_ENV_VARS}
    bundle = plan.bundle.read_text()
    assert bundle.startswith(ca.pem_path.read_text().strip()) and other.pem_path.read_text().strip() in bundle
    assert (mirror / "ca-certificates.crt").read_text() == bundle
    assert os.readlink(mirror / "Other_Root.pem") == str(tmp_path / "share" / "Other_Root.crt")
    ours = mirror / f"{subject_hash(ca.pem_path.read_text())}.0"
    assert ours.read_text() == ca.pem_path.read_text()
    # OpenSSL's CApath lookup (what an env-less child uses on Debian) finds our CA in the mirror by hash
    assert handshake(ca, capath=mirror) is None
    assert handshake(ca, capath=hash_dir) is not None  # the unmirrored store does not trust it


def handshake(ca: ScratchCA, capath: Path) -> str | None:
    """Verify a server certificate issued by `ca` with only `capath` as trust; None when it verifies."""
    cert, key = ca.issue("leaf", ["leaf.test"], [])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(capath=str(capath))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    cli = client.wrap_bio(c_in, c_out, server_hostname="leaf.test")
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    done: set[int] = set()
    for _ in range(10):
        for index, side in enumerate((cli, srv)):
            try:
                side.do_handshake()
                done.add(index)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                return str(exc)
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return None if done == {0, 1} else "handshake did not finish"


def test_bundle_files_outside_mirrored_dirs_get_their_own_mount(tmp_path: Path, ca: ScratchCA) -> None:
    lone = tmp_path / "pki" / "tls-ca-bundle.pem"
    lone.parent.mkdir()
    lone.write_text("")
    link = tmp_path / "ca-bundle.crt"
    link.symlink_to(lone)
    private = tmp_path / "private"
    private.mkdir()
    plan = plan_trust(private, ca.pem_path.read_text(), bundles=(str(link), str(lone)), hash_dirs=())
    assert plan.mounts == [(str(plan.bundle), str(lone))]
    assert trust_targets(bundles=(str(link),), hash_dirs=()) == [str(lone)]


def test_missing_ca_says_where_it_comes_from(tmp_path: Path) -> None:
    with pytest.raises(NamespaceError, match="ccproxy start"):
        read_ca(tmp_path)
