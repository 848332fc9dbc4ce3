"""Files that may hold keys or flows are created 0600, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ccproxy.fileio import write_private


def write_private_json(path: Path, doc: Any) -> None:
    write_private(path, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")


def touch_private(path: Path) -> None:
    """Create (or re-mode) a file as 0600 before anything is written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    os.close(fd)
    path.chmod(0o600)
