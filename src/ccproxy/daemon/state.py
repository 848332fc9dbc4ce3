"""The runtime state file: what `status`, `run` and the CLI read to find the running daemon."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ccproxy.daemon.files import write_private_json
from ccproxy.errors import DaemonError

STATE_FILE = "ccproxy.state.json"


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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_state(config_dir: Path, state: RuntimeState) -> None:
    write_private_json(state_path(config_dir), state.to_json())


def read_state(config_dir: Path) -> RuntimeState | None:
    """The live daemon's state, or None (a stale file from a dead pid counts as none)."""
    path = state_path(config_dir)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        state = RuntimeState.from_json(doc)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return state if pid_alive(state.pid) else None


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
