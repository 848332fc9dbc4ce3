"""Logging to `ccproxy.log` (0600) and the terminal; credentials are never formatted into records."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ccproxy.daemon.files import touch_private

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_path(config_dir: Path, log_file: str) -> Path:
    path = Path(log_file).expanduser()
    return path if path.is_absolute() else config_dir / path


def setup_logging(path: Path, level: str, console: bool = True) -> None:
    touch_private(path)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    # mitmproxy's per-connection chatter is noise at INFO.
    logging.getLogger("mitmproxy.proxy.server").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
