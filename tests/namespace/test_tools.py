"""Prerequisite checks: tools found on a PATH, the WireGuard backend, actionable install hints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccproxy.errors import NamespaceError
from ccproxy.namespace.tools import (
    TOOLS,
    WIREGUARD_GO,
    check_prerequisites,
    find_tools,
    install_hint,
    missing_tools,
    userns_problem,
    wireguard_backend,
)


def fake_path(tmp_path: Path, names: list[str]) -> str:
    for name in names:
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    return str(tmp_path)


ALL = [t.name for t in TOOLS] + ["wireguard-go"]


def test_find_tools_reports_paths_and_absences(tmp_path: Path) -> None:
    found = find_tools(fake_path(tmp_path, ["unshare", "wg"]))
    assert found["unshare"] == str(tmp_path / "unshare") and found["wg"] == str(tmp_path / "wg")
    assert found["slirp4netns"] is None and found["wireguard-go"] is None


def test_backend_prefers_the_kernel_module_then_wireguard_go(tmp_path: Path) -> None:
    with_go = find_tools(fake_path(tmp_path, ALL))
    assert wireguard_backend(with_go, kernel=True) == "kernel"
    assert wireguard_backend(with_go, kernel=False) == "wireguard-go"
    assert wireguard_backend({**with_go, "wireguard-go": None}, kernel=False) is None


def test_missing_lists_the_backend_only_without_the_module(tmp_path: Path) -> None:
    tools = find_tools(fake_path(tmp_path, [t.name for t in TOOLS]))
    assert missing_tools(tools, kernel=True) == []
    assert missing_tools(tools, kernel=False) == [WIREGUARD_GO]


def test_error_names_every_missing_tool_with_packages_per_distro(tmp_path: Path) -> None:
    with pytest.raises(NamespaceError) as err:
        check_prerequisites(platform="linux", path=fake_path(tmp_path, ["unshare", "nsenter"]), kernel=False)
    text = str(err.value)
    for name in ("slirp4netns", "ip", "wg", "wireguard-go"):
        assert f"{name} (" in text
    assert "sudo apt-get install iproute2 slirp4netns wireguard-go wireguard-tools" in text
    assert "sudo dnf install iproute slirp4netns wireguard-go wireguard-tools" in text
    assert "sudo pacman -S iproute2 slirp4netns wireguard-go wireguard-tools" in text


def test_macos_is_told_the_jail_needs_linux() -> None:
    with pytest.raises(NamespaceError, match="needs Linux"):
        check_prerequisites(platform="darwin")


def test_complete_toolset_passes(tmp_path: Path) -> None:
    tools = check_prerequisites(platform="linux", path=fake_path(tmp_path, ALL), kernel=False)
    assert set(tools) == set(ALL)


def test_userns_problems_are_actionable() -> None:
    assert "sysctl kernel.unprivileged_userns_clone=1" in (
        userns_problem({"kernel.unprivileged_userns_clone": "0"}) or ""
    )
    assert "user.max_user_namespaces" in (userns_problem({"user.max_user_namespaces": "0"}) or "")
    assert (
        userns_problem({"kernel.unprivileged_userns_clone": "1", "user.max_user_namespaces": "100"}) is None
    )


def test_install_hint_deduplicates_packages() -> None:
    unshare, nsenter = TOOLS[0], TOOLS[1]
    assert (
        install_hint([unshare, nsenter]).splitlines()[0].strip()
        == "Debian/Ubuntu: sudo apt-get install util-linux"
    )


@pytest.mark.skipif(not os.path.exists("/usr/sbin/ip"), reason="no /usr/sbin/ip here")
def test_default_search_includes_sbin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Debian's user PATH lacks /usr/sbin, where `ip` lives."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_tools()["ip"] == "/usr/sbin/ip"
