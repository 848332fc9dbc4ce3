"""`ccproxy.log` rotates by size, every file stays 0600, and `ccproxy logs -n` reads across the files."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccproxy.cli.logs import last_lines
from ccproxy.daemon.logs import log_files, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        handler.close()
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_the_log_rotates_and_every_file_is_private(tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "ccproxy.log"
    old_umask = os.umask(0o022)  # what a fresh file would get without ccproxy's own open
    try:
        setup_logging(path, "INFO", console=False, max_bytes=2000, backups=2)
        log = logging.getLogger("ccproxy.test")
        for i in range(200):
            log.info("line %03d %s", i, "x" * 40)
    finally:
        os.umask(old_umask)
    files = log_files(path)
    assert [p.name for p in files] == ["ccproxy.log.2", "ccproxy.log.1", "ccproxy.log"]
    assert not (tmp_path / "ccproxy.log.3").exists()
    assert all(p.stat().st_size <= 2000 for p in files)
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    lines = last_lines(path, 30)
    assert len(lines) == 30 and "line 199" in lines[-1] and "line 170" in lines[0]
    assert len(last_lines(path, 5)) == 5
