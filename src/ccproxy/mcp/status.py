"""The `status` tool and `proxy://status` resource: what runs, where, and how it is configured.

The same facts `ccproxy status --json` reports for a running daemon, minus tokens: an agent that
reads this never sees a credential.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccproxy import __version__
from ccproxy.config.model import CCProxyConfig
from ccproxy.mcp.notifications import NotificationBuffer
from ccproxy.store import api


@dataclass
class DaemonFacts:
    """What the daemon tells the MCP server about itself; `listeners` is read on every call."""

    config: CCProxyConfig
    config_dir: Path
    started_at: float
    listeners: Callable[[], dict[str, str]]
    notifications: NotificationBuffer | None = None


def _hook_name(entry: str | dict[str, Any]) -> str:
    path = entry if isinstance(entry, str) else str(entry.get("hook", ""))
    return path.rsplit(".", 1)[-1]


def _flow_count(config: CCProxyConfig, config_dir: Path) -> int:
    with api.open_store(config, config_dir) as store:
        return store.count() if store is not None else 0


def status_doc(facts: DaemonFacts) -> dict[str, Any]:
    """The daemon's status as JSON: version, listeners, providers, pipeline, flows, pending notifications."""
    c = facts.config
    listeners = facts.listeners()
    return {
        "running": True,
        "version": __version__,
        "pid": os.getpid(),
        "config_dir": str(facts.config_dir),
        "uptime_s": round(time.time() - facts.started_at, 1),
        "listeners": listeners,
        "proxy_url": listeners.get("proxy"),
        "mcp_url": listeners.get("mcp"),
        "providers": {
            name: {"provider": p.provider, "url": f"{p.scheme}://{p.host}{p.path}", "auth": p.auth.type if p.auth else None}
            for name, p in c.providers.items()
        },
        "pipeline": {
            "inbound": [_hook_name(e) for e in c.hooks.inbound],
            "router": {"transforms": len(c.inspector.transforms)},
            "outbound": [_hook_name(e) for e in c.hooks.outbound],
        },
        "flows": {
            "stored": _flow_count(c, facts.config_dir),
            "store": str(api.store_path(c, facts.config_dir)),
            "default_jq_filters": list(c.flows.default_jq_filters),
        },
        "notifications": facts.notifications.stats() if facts.notifications is not None else None,
    }


@dataclass
class _Listener:
    url: str


@dataclass
class _StateView:
    """The slice of the runtime state `namespace.status_facts` reads, built from the live daemon."""

    listeners: dict[str, _Listener]
    extra: dict[str, Any] = field(default_factory=dict)


def namespace_doc(facts: DaemonFacts) -> dict[str, Any]:
    """`ccproxy namespace status --json`'s facts: read from files and $PATH, nothing probed."""
    from ccproxy.namespace.status import status_facts

    state = _StateView({name: _Listener(url) for name, url in facts.listeners().items()})
    return status_facts(facts.config_dir, list(facts.config.namespace.nameservers), state)
