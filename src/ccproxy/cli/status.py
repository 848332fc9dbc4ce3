"""`ccproxy status`: what runs for this config dir, the pipeline as configured, and health checks."""

from __future__ import annotations

import argparse
import itertools
import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from ccproxy.cli.common import load
from ccproxy.daemon.state import RuntimeState, read_state

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig

PROXY_DOWN, INSPECTOR_DOWN, MCP_DOWN = 1, 2, 4


def register(sub: Any) -> None:
    p = sub.add_parser(
        "status",
        help="show what runs and the hook pipeline; with --proxy/--inspect/--mcp, a health check",
        description="Without service flags: a report (exit 0). With --proxy/--inspect/--mcp: a health "
        "check whose exit code is a bitmask: 1 proxy down, 2 inspector down, 4 MCP down.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--proxy", action="store_true", help="check the reverse proxy (exit bit 1)")
    p.add_argument("--inspect", action="store_true", help="check the inspector / mitmweb (exit bit 2)")
    p.add_argument("--mcp", action="store_true", help="check the MCP server (exit bit 4)")
    p.add_argument("--mermaid", action="store_true", help="print the hook DAGs as mermaid stateDiagram-v2")
    p.add_argument("--show-secrets", action="store_true", help="show tokens instead of placeholders")
    p.set_defaults(func=run)


def _get(url: str, token: str | None = None, timeout: float = 2.0) -> int | None:
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def live_store(state: RuntimeState | None) -> dict[str, Any] | None:
    """The flow writer's counters as the running daemon answers them on `/health`, or None."""
    if state is None:
        return None
    try:
        with urllib.request.urlopen(state.listeners["proxy"].url + "/health", timeout=2.0) as resp:
            store = json.loads(resp.read()).get("store")
    except (OSError, ValueError, AttributeError):
        return None
    return store if isinstance(store, dict) else None


def probe(state: RuntimeState | None, config: CCProxyConfig) -> dict[str, bool]:
    if state is None:
        return {"proxy": False, "inspector": False, "mcp": False}
    proxy = _get(state.listeners["proxy"].url + "/health") == 200
    inspector = _get(state.listeners["inspector"].url + "/flows", state.web_token) == 200
    mcp_listener = state.listeners.get("mcp")
    mcp = bool(mcp_listener) and _get(mcp_listener.url, state.mcp_token) not in (None, 401, 403)  # type: ignore[union-attr]
    return {"proxy": proxy, "inspector": inspector, "mcp": bool(mcp and config.mcp.http.enabled)}


def pipeline_doc(config: CCProxyConfig) -> dict[str, Any]:
    from ccproxy.daemon.chain import build_stages

    inbound, outbound = build_stages(config)

    def hooks(stage: Any) -> list[dict[str, Any]]:
        return [{"name": h.name, "reads": sorted(h.reads), "writes": sorted(h.writes)} for h in stage.hooks]

    return {
        "inbound": hooks(inbound),
        "router": {"transforms": len(config.inspector.transforms)},
        "outbound": hooks(outbound),
    }


def mermaid(config: CCProxyConfig) -> str:
    from ccproxy.daemon.chain import build_stages
    from ccproxy.pipeline.dag import dependencies

    lines = ["stateDiagram-v2"]
    previous = "[*]"
    for stage in build_stages(config):
        lines.append(f"    state {stage.name} {{")
        deps = dependencies(stage.hooks)
        names = [h.name for h in stage.hooks]
        for a, b, field in deps:
            lines.append(f"        {a} --> {b}: {field}")
        chain = [n for n in names if not any(n in (a, b) for a, b, _ in deps)]
        if names:
            lines.append(f"        [*] --> {names[0]}")
            for a, b in itertools.pairwise(chain):
                lines.append(f"        {a} --> {b}")
            lines.append(f"        {names[-1]} --> [*]")
        lines.append("    }")
        lines.append(f"    {previous} --> {stage.name}")
        previous = stage.name
        if stage.name == "inbound":
            lines.append("    inbound --> router")
            previous = "router"
    lines.append(f"    {previous} --> [*]")
    return "\n".join(lines)


def mcp_snippet(state: RuntimeState | None, config: CCProxyConfig, show: bool) -> dict[str, Any]:
    http = config.mcp.http
    listener = state.listeners.get("mcp") if state else None
    url = listener.url if listener else f"http://{http.host}:{http.port}/mcp"
    token = (state.mcp_token if state else None) or "<token>"
    return {
        "mcpServers": {
            "ccproxy": {
                "type": "http",
                "url": url,
                "headers": {"Authorization": f"Bearer {token if show else '<ccproxy-mcp-token>'}"},
            }
        }
    }


# --- credential checks: the daemon's own view while it runs, else this shell's -------------------
AUTH_VIEW_DAEMON = "daemon"
AUTH_VIEW_SHELL = "shell"


def auth_checks(config: CCProxyConfig, directory: Any) -> dict[str, str]:
    """Whether each provider's credential resolves in this process: `ok` or the error, never the value."""
    import asyncio
    from pathlib import Path

    from ccproxy.auth.resolver import CredentialResolver

    resolver = CredentialResolver(config, Path(directory))
    checks = asyncio.run(resolver.check_all())
    return {name: result for name, result in checks.items() if config.providers[name].auth is not None}


def daemon_auth_checks(state: RuntimeState, resolved: dict[str, Any] | None = None) -> dict[str, str] | None:
    """The running daemon's checks (its environment, its files), or None when it does not answer.

    `resolved` receives, per cached credential, when the daemon last resolved it (and until when)."""
    from ccproxy.daemon.authview import AUTH_PATH

    url = state.listeners["inspector"].url + AUTH_PATH
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {state.web_token}"})
    try:  # a `command` source may take its whole timeout (10 s by default)
        with urllib.request.urlopen(req, timeout=60) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    checks = doc.get("checks") if isinstance(doc, dict) else None
    if resolved is not None and isinstance(doc, dict) and isinstance(doc.get("resolved"), dict):
        resolved.update(doc["resolved"])
    return {str(k): str(v) for k, v in checks.items()} if isinstance(checks, dict) else None


def credential_view(
    state: RuntimeState | None, config: CCProxyConfig, directory: Any, resolved: dict[str, Any] | None = None
) -> tuple[str, dict[str, str]]:
    """Ask the daemon when one runs; only without one are the sources checked here, in this shell."""
    if state is not None:
        checks = daemon_auth_checks(state, resolved)
        if checks is not None:
            return AUTH_VIEW_DAEMON, checks
    return AUTH_VIEW_SHELL, auth_checks(config, directory)


def resolved_note(info: dict[str, Any]) -> str:
    """`, resolved 42s ago, cached 258s more` for a cached credential."""
    now = time.time()
    note = f", resolved {max(0, round(now - float(info['resolved_at'])))}s ago"
    until = info.get("cached_until")
    return note + (f", cached {max(0, round(float(until) - now))}s more" if until else ", not cached")


def auth_view_line(doc: dict[str, Any]) -> str:
    if doc["auth_view"] == AUTH_VIEW_DAEMON:
        return f"credential checks: as the daemon (pid {doc['pid']}) resolves them"
    if doc["running"]:
        return "credential checks: as this shell resolves them [yellow](the daemon did not answer)[/yellow]"
    return "credential checks: as this shell resolves them (no daemon runs; a daemon checks its own environment)"


def report(state: RuntimeState | None, config: CCProxyConfig, directory: Any, show: bool) -> dict[str, Any]:
    health = probe(state, config)
    resolved: dict[str, Any] = {}
    view, checks = credential_view(state, config, directory, resolved)
    doc: dict[str, Any] = {
        "config_dir": str(directory),
        "running": state is not None,
        "pid": state.pid if state else None,
        "version": state.version if state else None,
        "uptime_s": round(time.time() - state.started_at, 1) if state else None,
        "proxy": {"url": f"http://{config.host}:{config.port}", "up": health["proxy"]},
        "inspector": {"url": f"http://{config.host}:{config.inspector.port}", "up": health["inspector"]},
        "mcp": {
            "enabled": config.mcp.http.enabled,
            "url": f"http://{config.mcp.http.host}:{config.mcp.http.port}/mcp",
            "up": health["mcp"],
            "client_config": mcp_snippet(state, config, show),
        },
        "providers": {
            name: {
                "provider": p.provider,
                "url": f"{p.scheme}://{p.host}{p.path}",
                "auth": p.auth.type if p.auth else None,
                **({"auth_check": checks[name]} if name in checks else {}),
                **({"auth_resolved": resolved[name]} if name in resolved else {}),
            }
            for name, p in config.providers.items()
        },
        "auth_view": view,
        "pipeline": pipeline_doc(config),
    }
    from ccproxy.store.api import store_status  # flow store counters: written, lost (and why), spilled

    doc["store"] = store_status(config, directory, live_store(state))
    from ccproxy.cli.quota import status_quota  # subscription windows, from the newest stored answers

    doc["quota"] = status_quota(config, directory)
    doc["remote"] = remote_doc(state, config, show)
    if state is not None:
        doc["inspector"]["token"] = state.web_token if show else "<hidden: --show-secrets>"
        viewer = state.listeners["inspector"].url.rstrip("/") + "/ccproxy/"
        doc["viewer"] = {"url": f"{viewer}?token={state.web_token}" if show else viewer}
        for name, listener in state.listeners.items():
            doc.setdefault(name, {})["url"] = listener.url
    return doc


def remote_doc(state: RuntimeState | None, config: CCProxyConfig, show: bool) -> dict[str, Any]:
    """Whether other machines can reach the reverse listener (it adds your credentials), and how they must knock."""
    from ccproxy.config.model import is_loopback_host

    doc: dict[str, Any] = {"exposed": not is_loopback_host(config.host), "allow_remote": config.allow_remote}
    if config.allow_remote:
        token = (state.extra.get("remote_token") if state else None) or None
        doc["token_header"] = "x-ccproxy-token"
        doc["token"] = (token if show else "<hidden: --show-secrets>") if token else None
    return doc


def render(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    up = {True: "[green]up[/green]", False: "[red]down[/red]"}
    table = Table(title=f"ccproxy — {doc['config_dir']}", show_header=True)
    table.add_column("service")
    table.add_column("url")
    table.add_column("state")
    for name in ("proxy", "inspector", "mcp"):
        table.add_row(name, doc[name]["url"], up[bool(doc[name].get("up"))])
    if "wireguard" in doc:  # `run --inspect`'s tunnel; UDP, so no health probe: listed while the daemon runs
        table.add_row("wireguard", doc["wireguard"]["url"], "[green]listening[/green]")
    if "viewer" in doc:  # the session viewer; `?token=` only with --show-secrets
        hint = "[green]open[/green]" if "token=" in doc["viewer"]["url"] else "needs ?token= (--show-secrets)"
        table.add_row("viewer", doc["viewer"]["url"], hint)
    if "forward" in doc:  # `run --proxy`'s forward proxy (its credential is only in the state file)
        table.add_row("forward", doc["forward"]["url"], "[green]listening[/green]")
    console.print(table)
    remote = doc.get("remote") or {}
    if remote.get("exposed"):
        console.print(f"[bold red]REMOTE: {doc['proxy']['url']} serves other machines with your provider "
                      f"credentials; each must send {remote.get('token_header')}: <token> "
                      f"(token: {remote.get('token') or 'shown while the daemon runs'})[/bold red]")
    if doc["running"]:
        console.print(f"pid {doc['pid']}, version {doc['version']}, up {doc['uptime_s']}s")
    else:
        console.print("[yellow]no daemon running for this config dir[/yellow] — `ccproxy start`")
    if "store" in doc:
        from ccproxy.store.api import store_status_line

        console.print(store_status_line(doc["store"]), highlight=False)
    if doc.get("quota"):
        from ccproxy.cli.quota import render as render_quota

        console.print("quota (newest answers' rate-limit headers; `ccproxy flows quota` for who spent it):")
        console.print(render_quota(doc["quota"], detail=False).rstrip(), highlight=False, markup=False)
    prov = Table(title="providers")
    for col in ("name", "format", "url", "auth"):
        prov.add_column(col)
    for name, p in doc["providers"].items():
        auth = p["auth"] or "-"
        if "auth_check" in p:
            auth += " (ok)" if p["auth_check"] == "ok" else f" [red]{p['auth_check']}[/red]"
        if "auth_resolved" in p:
            auth += resolved_note(p["auth_resolved"])
        prov.add_row(name, p["provider"], p["url"], auth)
    console.print(prov)
    console.print(auth_view_line(doc))
    pipe = Table(title="pipeline: inbound DAG -> router -> outbound DAG")
    for col in ("stage", "hook", "reads", "writes"):
        pipe.add_column(col)
    for stage in ("inbound", "outbound"):
        for h in doc["pipeline"][stage]:
            pipe.add_row(stage, h["name"], ", ".join(h["reads"]), ", ".join(h["writes"]))
        if stage == "inbound":
            pipe.add_row("router", f"{doc['pipeline']['router']['transforms']} transform rule(s)", "", "")
    console.print(pipe)
    if doc["mcp"]["enabled"]:
        console.print("MCP client config:")
        console.print_json(json.dumps(doc["mcp"]["client_config"]))


def run(args: argparse.Namespace) -> int:
    directory, config = load(args)
    state = read_state(directory)
    if args.mermaid:
        print(mermaid(config))
        return 0
    checks = [
        (args.proxy, "proxy", PROXY_DOWN),
        (args.inspect, "inspector", INSPECTOR_DOWN),
        (args.mcp, "mcp", MCP_DOWN),
    ]
    if any(flag for flag, _, _ in checks):
        health = probe(state, config)
        code = sum(bit for flag, name, bit in checks if flag and not health[name])
        result = {name: health[name] for flag, name, _ in checks if flag}
        if args.json:
            print(json.dumps(result))
        else:
            for name, ok in result.items():
                print(f"{name}: {'up' if ok else 'down'}")
        return code
    doc = report(state, config, directory, args.show_secrets)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        render(doc)
    return 0
