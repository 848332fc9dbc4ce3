"""inspector.upstream_ca adds to mitmproxy's roots instead of replacing them."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from ccproxy.errors import ConfigError
from ccproxy.namespace.upstream import upstream_bundle
from tests.namespace.certs import ScratchCA


def test_bundle_is_public_roots_plus_the_extra_ca(tmp_path: Path) -> None:
    ca = ScratchCA(tmp_path / "ca")
    bundle = Path(upstream_bundle(tmp_path, str(ca.pem_path)))
    text = bundle.read_text()
    assert Path(certifi.where()).read_text().strip() in text
    assert text.rstrip().endswith(ca.pem_path.read_text().strip())


def test_unreadable_or_empty_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inspector\.upstream_ca: cannot read"):
        upstream_bundle(tmp_path, str(tmp_path / "missing.pem"))
    (tmp_path / "empty.pem").write_text("no certificates here")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        upstream_bundle(tmp_path, str(tmp_path / "empty.pem"))
