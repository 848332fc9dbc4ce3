"""`ccproxy namespace doctor`: a live probe through the very path `ccproxy run --inspect` takes.

DNS, a TLS connection to an IPv4 target and ccproxy on the jail's localhost must all work; IPv6 is
reported, never a failure. The targets are config keys so tests can point them at their own hosts.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ccproxy.errors import CCProxyError
from ccproxy.namespace.jail import DaemonInfo, JailOptions, run_in_jail

REQUIRED = ("dns", "ipv4", "localhost")


def hints(dns_name: str, ipv4_target: str, nameservers: list[str], proxy_port: int) -> dict[str, str]:
    return {
        "jail": "run `ccproxy namespace status` for missing tools and user-namespace settings",
        "dns": f"the jail could not resolve {dns_name} through {', '.join(nameservers)}; check "
        "ccproxy.namespace.nameservers (10.0.0.53 is mitmproxy's resolver, which uses the host's DNS)",
        "ipv4": f"no TLS handshake with {ipv4_target} through the tunnel; check the host reaches it "
        "(`curl -v https://...`), inspector.upstream_ca for private CAs, and ccproxy.log",
        "localhost": f"ccproxy's proxy at 127.0.0.1:{proxy_port} did not answer /health inside the jail; "
        "check `ccproxy status --proxy`",
    }


def probe_command(dns_name: str, ipv4_target: str, proxy_port: int) -> list[str]:
    args = {"dns_name": dns_name, "ipv4_target": ipv4_target, "proxy_port": proxy_port}
    return [sys.executable, "-m", "ccproxy.namespace.probe", json.dumps(args)]


def run_doctor(
    state: DaemonInfo, config_dir: Path, options: JailOptions, dns_name: str, ipv4_target: str
) -> dict[str, Any]:
    proxy_port = int(state.listeners["proxy"].port)
    hint = hints(dns_name, ipv4_target, options.nameservers, proxy_port)
    report: dict[str, Any] = {
        "ok": False,
        "targets": {"dns_name": dns_name, "ipv4_target": ipv4_target, "proxy_port": proxy_port},
        "checks": [],
    }
    with tempfile.TemporaryFile() as out:
        try:
            code = run_in_jail(
                state, config_dir, probe_command(dns_name, ipv4_target, proxy_port), options, out
            )
        except CCProxyError as exc:
            report["checks"].append({"name": "jail", "ok": False, "detail": str(exc), "hint": hint["jail"]})
            return report
        out.seek(0)
        raw = out.read().decode("utf-8", "replace")
    try:
        probe = json.loads(raw.strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = f"the probe exited {code} without a report: {raw[-300:]!r}"
        report["checks"].append({"name": "jail", "ok": False, "detail": detail, "hint": hint["jail"]})
        return report
    report["checks"].append(
        {"name": "jail", "ok": True, "detail": "namespaces, slirp4netns and WireGuard up"}
    )
    for name in REQUIRED:
        check = {"name": name, **probe[name]}
        if not check["ok"]:
            check["hint"] = hint[name]
        report["checks"].append(check)
    report["ipv6"] = probe["ipv6"]
    report["ok"] = all(check["ok"] for check in report["checks"])
    return report


def render_doctor(report: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    for check in report["checks"]:
        mark = "[green]ok[/green]  " if check["ok"] else "[red]FAIL[/red]"
        console.print(f"{mark} {check['name']}: {check.get('detail', '')}", highlight=False)
        if not check["ok"] and check.get("hint"):
            console.print(f"      hint: {check['hint']}", highlight=False)
    if "ipv6" in report:
        console.print(f"info ipv6: {report['ipv6']['detail']} (reported, never a failure)", highlight=False)
    console.print("[green]doctor: ok[/green]" if report["ok"] else "[red]doctor: failed[/red]")
