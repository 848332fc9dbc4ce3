"""Where a config dir's flow store is, opening it, and its writer's counters (`ccproxy status`).

The flow sets themselves (list, show, compare, HAR, sessions, ...) are `ccproxy.flows.library.FlowLibrary`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.store.db import FlowStore

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig


def store_path(config: CCProxyConfig, config_dir: Path) -> Path:
    path = Path(config.flows.store).expanduser()
    return path if path.is_absolute() else config_dir / path


@contextlib.contextmanager
def open_store(config: CCProxyConfig, config_dir: Path) -> Iterator[FlowStore | None]:
    """The store, or None before the daemon recorded its first flow."""
    path = store_path(config, config_dir)
    if not path.exists():
        yield None
        return
    store = FlowStore(path)
    try:
        yield store
    finally:
        store.close()


def store_status(config: CCProxyConfig, config_dir: Path, live: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `store` section of `ccproxy status`: where the store is and what the daemon's writer counted
    (since its last start): flows written, flows lost and why, flows not stored yet. `live` is the
    running daemon's own answer (`/health`), preferred to the status file, which a full disk stales."""
    from ccproxy.store.writerstatus import read_stats

    path = store_path(config, config_dir)
    stats = live if live is not None else (read_stats(path) or {})
    return {
        "path": str(path),
        "exists": path.exists(),
        "source": "daemon" if live is not None else "file",
        "flows_written": stats.get("written"),
        "flows_lost": stats.get("lost", 0),
        "last_loss": stats.get("last_loss"),
        "queued": stats.get("queued", 0),
        "spill_pending": stats.get("spill_pending", 0),
        "pruned_young": stats.get("pruned_young", 0),
        "updated_at": stats.get("updated_at"),
    }


def store_status_line(doc: dict[str, Any]) -> str:
    """One line of `ccproxy status` text for the `store` section."""
    if not doc["exists"]:
        return f"flow store: none yet at {doc['path']}"
    line = f"flow store: {doc['path']}"
    if doc["flows_written"] is not None:
        line += f", {doc['flows_written']} flow(s) written since the daemon started"
    if doc.get("queued"):
        line += f", {doc['queued']} not stored yet (safe in the journal)"
    if doc.get("pruned_young"):
        line += (f"\n[yellow]retention removed {doc['pruned_young']} flow(s) minutes after capture[/yellow]; "
                 "raise flows.retention.max_count")
    if doc["flows_lost"]:
        cause = (doc["last_loss"] or {}).get("cause", "?")
        line += f"\n[red]{doc['flows_lost']} flow(s) could not be stored[/red]; last cause: {cause}"
    return line
