"""Logging to `ccproxy.log` (0600, rotated by size) and the terminal; no record carries flow content.

Every handler formats through `ScrubbingFormatter` (see `ccproxy.daemon.logscrub`): ccproxy's own
messages never format a credential, and third-party tracebacks are cut down to what is safe.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from ccproxy.daemon.files import touch_private
from ccproxy.daemon.logscrub import ScrubbingFormatter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

#: Defaults of `ccproxy.log_max_bytes` / `ccproxy.log_backups`.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3


def log_path(config_dir: Path, log_file: str) -> Path:
    path = Path(log_file).expanduser()
    return path if path.is_absolute() else config_dir / path


def log_files(path: Path) -> list[Path]:
    """The log and its rotated copies that exist, oldest first (`ccproxy.log.3` ... `ccproxy.log`)."""
    backups = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            backups.append((int(suffix), candidate))
    return [p for _, p in sorted(backups, reverse=True)] + ([path] if path.exists() else [])


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated log whose every file, the fresh one after a rollover included, is 0600.

    `RotatingFileHandler` opens a new file with the process umask (usually 0644); rotated copies keep
    the mode of the file they were renamed from."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def setup_logging(
    path: Path,
    level: str,
    console: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
) -> None:
    """Route every logger to the log file (and stderr); `max_bytes` 0 turns rotation off."""
    touch_private(path)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    file_handler.setFormatter(ScrubbingFormatter(FORMAT))
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(ScrubbingFormatter("%(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    # mitmproxy's per-connection chatter is noise at INFO.
    logging.getLogger("mitmproxy.proxy.server").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
