"""`ccproxy namespace status`: implementation facts, read from files and $PATH; nothing is probed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ccproxy.cabundle import CA_ENV_VARS
from ccproxy.namespace.cabundle import trust_targets
from ccproxy.namespace.jail import DaemonInfo, unshare_maps_users
from ccproxy.namespace.listener import TLS_KEYLOG_FILE
from ccproxy.namespace.tools import (
    find_tools,
    kernel_wireguard,
    missing_tools,
    userns_facts,
    userns_problem,
    wireguard_backend,
)
from ccproxy.namespace.topology import MITMPROXY_DNS, TOPOLOGY
from ccproxy.namespace.wgkeys import CLIENT_CONFIG_FILE, KEYS_FILE, WG_KEYLOG_FILE

PERMISSIVE = (
    "every destination is allowed: flows go to their original destination unless an inspector.transforms "
    "rule routes them elsewhere; ccproxy records traffic, it does not filter it"
)


def _file(path: Path) -> dict[str, Any]:
    return {"path": str(path), "exists": path.exists()}


def status_facts(config_dir: Path, nameservers: list[str], state: DaemonInfo | None) -> dict[str, Any]:
    tools = find_tools()
    kernel = kernel_wireguard()
    missing = [tool.name for tool in missing_tools(tools, kernel)]
    listener = state.listeners.get("wireguard") if state is not None else None
    userns = userns_facts()
    unshare = tools.get("unshare")
    return {
        "platform": sys.platform,
        "supported": sys.platform == "linux" and not missing and userns_problem(userns) is None,
        "permissive": True,
        "mode": "permissive",
        "mode_detail": PERMISSIVE,
        "privacy_claim": False,
        "daemon_running": state is not None,
        "wireguard": {
            "client_config": _file(config_dir / CLIENT_CONFIG_FILE),
            "keys": _file(config_dir / KEYS_FILE),
            "listener": getattr(listener, "url", None),
            "backend": wireguard_backend(tools, kernel),
            "kernel_module_loaded": kernel,
        },
        "slirp4netns": {
            "tap": TOPOLOGY.tap,
            "tap_address": TOPOLOGY.tap_address,
            "gateway": TOPOLOGY.gateway,
            "dns": TOPOLOGY.slirp_dns,
            "mtu": TOPOLOGY.tap_mtu,
            "host_loopback": f"{TOPOLOGY.gateway} is the host's 127.0.0.1; only the WireGuard socket routes there",
        },
        "tunnel": {
            "interface": TOPOLOGY.wg_interface,
            "address": TOPOLOGY.wg_address,
            "mtu": TOPOLOGY.wg_mtu,
            "fwmark": TOPOLOGY.fwmark,
            "route_table": TOPOLOGY.route_table,
            "ipv4": f"every packet not marked {TOPOLOGY.fwmark} goes through {TOPOLOGY.wg_interface}",
            "ipv6": "not routed: IPv6 destinations fail fast inside the jail",
            "nameservers": nameservers,
            "mitmproxy_resolver": MITMPROXY_DNS,
            "localhost": "ccproxy's TCP ports on the jail's 127.0.0.1 are relayed to the host's",
            "inbound": "ports the command listens on are mirrored on the host's 127.0.0.1",
        },
        "command": {
            "identity": "your uid/gid in a nested user namespace, no capabilities over the jail"
            if unshare and unshare_maps_users(unshare)
            else "root of the jail's user namespace (util-linux < 2.38 cannot map your own ids)",
            "ca_env": list(CA_ENV_VARS),
            "trust_store_mounts": trust_targets(),
        },
        "tools": tools,
        "missing": missing,
        "userns": userns,
        "keylogs": {
            "tls": _file(config_dir / TLS_KEYLOG_FILE),
            "wg": _file(config_dir / WG_KEYLOG_FILE),
        },
    }


def render_status(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    yes = {True: "[green]yes[/green]", False: "[red]no[/red]"}
    console.print(f"transparent capture supported here: {yes[bool(doc['supported'])]}")
    console.print(f"mode: permissive ({doc['mode_detail']})")
    console.print("privacy_claim: false (ccproxy reports what it does; the jail is not a privacy firewall)")
    wg = doc["wireguard"]
    console.print(
        f"WireGuard: backend {wg['backend'] or '[red]none[/red]'}, listener {wg['listener'] or '(daemon not running)'}, "
        f"client config {'present' if wg['client_config']['exists'] else 'not generated yet'}"
    )
    slirp, tunnel = doc["slirp4netns"], doc["tunnel"]
    console.print(
        f"slirp4netns: {slirp['tap']} {slirp['tap_address']}, gateway {slirp['gateway']}, DNS {slirp['dns']}; "
        f"tunnel {tunnel['interface']} {tunnel['address']}, nameservers {', '.join(tunnel['nameservers'])}"
    )
    table = Table(title="tools")
    table.add_column("tool")
    table.add_column("path")
    for name, path in doc["tools"].items():
        table.add_row(name, path or "[red]missing[/red]")
    console.print(table)
    if doc["missing"]:
        console.print(f"[red]missing:[/red] {', '.join(doc['missing'])}")
    console.print(f"command runs as: {doc['command']['identity']}")
    for name, item in doc["keylogs"].items():
        console.print(f"{name}.keylog: {item['path']} ({'present' if item['exists'] else 'absent'})")
