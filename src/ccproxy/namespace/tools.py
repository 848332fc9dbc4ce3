"""Prerequisites of the jail: the tools it runs, the WireGuard backend it can use, the kernel knobs it needs."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ccproxy.errors import NamespaceError


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    debian: str
    fedora: str
    arch: str


TOOLS: tuple[Tool, ...] = (
    Tool(
        "unshare",
        "creates the user, network, mount and pid namespaces",
        "util-linux",
        "util-linux",
        "util-linux",
    ),
    Tool(
        "nsenter", "runs `wg` next to wireguard-go's control socket", "util-linux", "util-linux", "util-linux"
    ),
    Tool(
        "slirp4netns",
        "gives the namespace a NATed TAP to the host",
        "slirp4netns",
        "slirp4netns",
        "slirp4netns",
    ),
    Tool("ip", "configures addresses, routes and rules in the namespace", "iproute2", "iproute", "iproute2"),
    Tool("wg", "configures the WireGuard client", "wireguard-tools", "wireguard-tools", "wireguard-tools"),
)
WIREGUARD_GO = Tool(
    "wireguard-go",
    "userspace WireGuard when the kernel has no module",
    "wireguard-go",
    "wireguard-go",
    "wireguard-go",
)


def find_tools(path: str | None = None) -> dict[str, str | None]:
    """Each tool's resolved path, or None; `path` defaults to $PATH (plus sbin, where `ip` often lives)."""
    search = path if path is not None else os.environ.get("PATH", os.defpath)
    if path is None:
        extra = [d for d in ("/usr/sbin", "/sbin") if d not in search.split(os.pathsep)]
        search = os.pathsep.join([search, *extra])
    return {tool.name: shutil.which(tool.name, path=search) for tool in (*TOOLS, WIREGUARD_GO)}


def kernel_wireguard() -> bool:
    """The module is loaded (an unprivileged namespace cannot make the kernel load it)."""
    return Path("/sys/module/wireguard").is_dir()


def wireguard_backend(tools: dict[str, str | None], kernel: bool | None = None) -> str | None:
    """ "kernel" when the module is loaded, else "wireguard-go" when installed, else None."""
    if kernel_wireguard() if kernel is None else kernel:
        return "kernel"
    return "wireguard-go" if tools.get("wireguard-go") else None


def missing_tools(tools: dict[str, str | None], kernel: bool | None = None) -> list[Tool]:
    missing = [tool for tool in TOOLS if not tools.get(tool.name)]
    if wireguard_backend(tools, kernel) is None:
        missing.append(WIREGUARD_GO)
    return missing


def install_hint(missing: list[Tool]) -> str:
    def line(distro: str, command: str, attr: str) -> str:
        packages = sorted({getattr(tool, attr) for tool in missing})
        return f"  {distro}: {command} {' '.join(packages)}"

    return "\n".join(
        [
            line("Debian/Ubuntu", "sudo apt-get install", "debian"),
            line("Fedora", "sudo dnf install", "fedora"),
            line("Arch", "sudo pacman -S", "arch"),
        ]
    )


def userns_facts() -> dict[str, str | None]:
    """The sysctls that can forbid unprivileged user namespaces (None where the kernel has no such knob)."""
    knobs = {
        "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
        "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
        "kernel.apparmor_restrict_unprivileged_userns": "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    }
    facts: dict[str, str | None] = {}
    for name, path in knobs.items():
        try:
            facts[name] = Path(path).read_text().strip()
        except OSError:
            facts[name] = None
    return facts


def userns_problem(facts: dict[str, str | None]) -> str | None:
    if facts.get("kernel.unprivileged_userns_clone") == "0":
        return "unprivileged user namespaces are disabled; enable them with `sudo sysctl kernel.unprivileged_userns_clone=1`"
    if facts.get("user.max_user_namespaces") == "0":
        return "user namespaces are disabled (user.max_user_namespaces=0); raise it with `sudo sysctl user.max_user_namespaces=15000`"
    return None


def check_prerequisites(
    platform: str | None = None, path: str | None = None, kernel: bool | None = None
) -> dict[str, str]:
    """Every tool the jail needs, by name -> path; raise NamespaceError naming all that is missing."""
    if (platform or sys.platform) != "linux":
        raise NamespaceError(
            "`ccproxy run --inspect` needs Linux (user and network namespaces, slirp4netns, WireGuard); "
            "on this OS use `ccproxy run -- CMD` (base URLs) or run ccproxy inside a Linux VM"
        )
    tools = find_tools(path)
    missing = missing_tools(tools, kernel)
    if missing:
        names = ", ".join(f"{tool.name} ({tool.purpose})" for tool in missing)
        raise NamespaceError(
            f"the capture jail needs tools that are not installed: {names}. Install them with:\n"
            + install_hint(missing)
        )
    problem = userns_problem(userns_facts())
    if problem:
        raise NamespaceError(problem)
    return {name: found for name, found in tools.items() if found}
