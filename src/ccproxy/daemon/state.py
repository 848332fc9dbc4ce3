"""The runtime state file and the daemon's lock: what `start`, `status`, `run` and `stop` use to find the daemon.

A pid alone does not identify the daemon: after a crash or a reboot the state file's pid may belong
to any other process. The daemon holds an exclusive `flock` on `ccproxy.lock` for its whole life
(the kernel drops it when the process dies, however it dies) and writes its pid into that file; the
state file counts only while that lock is held by the pid the state file names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ccproxy.daemon.files import write_private_json
from ccproxy.errors import DaemonError

STATE_FILE = "ccproxy.state.json"
LOCK_FILE = "ccproxy.lock"


@dataclass
class Listener:
    url: str
    host: str
    port: int


@dataclass
class RuntimeState:
    """Written at start, removed at exit; mode 0600 because it holds the tokens."""

    pid: int
    version: str
    started_at: float
    config_dir: str
    listeners: dict[str, Listener]
    web_token: str
    mcp_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RuntimeState:
        listeners = {k: Listener(**v) for k, v in doc.get("listeners", {}).items()}
        return cls(**{**doc, "listeners": listeners})

    @property
    def proxy_url(self) -> str:
        return self.listeners["proxy"].url


def state_path(config_dir: Path) -> Path:
    return config_dir / STATE_FILE


# --- the daemon's lock ----------------------------------------------------------------------------


def lock_path(config_dir: Path) -> Path:
    return config_dir / LOCK_FILE


class DaemonLock:
    """The exclusive lock one daemon per config dir holds from before its ports are checked until it exits."""

    def __init__(self, config_dir: Path) -> None:
        self.path = lock_path(config_dir)
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock and write our pid into it; False when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return True

    def release(self) -> None:
        """Unlock (the file stays: removing it would let two starts lock two different files)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def lock_holder(config_dir: Path) -> int | None:
    """The pid of the daemon that holds this config dir's lock, or None when no daemon does.

    A daemon that has just taken the lock may not have written its pid yet: that counts as running
    (pid 0), so `start` still refuses and `stop` waits for the pid.
    """
    try:
        fd = os.open(lock_path(config_dir), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def write_state(config_dir: Path, state: RuntimeState) -> None:
    write_private_json(state_path(config_dir), state.to_json())


def read_state(config_dir: Path) -> RuntimeState | None:
    """The live daemon's state, or None: a file whose pid does not hold the daemon lock is stale."""
    path = state_path(config_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        state = RuntimeState.from_json(doc)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return state if lock_holder(config_dir) == state.pid else None


def require_state(config_dir: Path) -> RuntimeState:
    state = read_state(config_dir)
    if state is None:
        raise DaemonError(
            f"no ccproxy daemon is running for config dir {config_dir}; start one with "
            f"`ccproxy --config {config_dir} start` (or use the same CCPROXY_CONFIG_DIR)"
        )
    return state


def remove_state(config_dir: Path, pid: int) -> None:
    path = state_path(config_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass
