"""The jail's resolver files: nameservers through the tunnel, no host resolver daemons."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.namespace import resolver
from ccproxy.namespace.resolver import nsswitch_conf, plan_resolver, resolv_conf


def test_resolv_conf_keeps_search_and_options_not_nameservers() -> None:
    host = "# generated\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n"
    assert (
        resolv_conf(["10.0.0.53"], host)
        == "nameserver 10.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname", "files myhostname dns"),
        ("hosts:          files resolve [!UNAVAIL=return] dns", "files dns"),
        ("hosts: files myhostname dns", None),
        ("hosts: files dns", None),
    ],
)
def test_nsswitch_hosts_line(line: str, expected: str | None) -> None:
    text = f"passwd: files systemd\n{line}\nnetworks: files\n"
    out = nsswitch_conf(text)
    if expected is None:
        assert out is None
    else:
        assert out is not None
        assert out.splitlines()[0] == "passwd: files systemd" and out.splitlines()[2] == "networks: files"
        assert out.splitlines()[1].split() == ["hosts:", *expected.split()]


def test_plan_writes_files_and_targets_real_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (tmp_path / "stub-resolv.conf").write_text("nameserver 127.0.0.53\nsearch lan\n")
    (etc / "resolv.conf").symlink_to(tmp_path / "stub-resolv.conf")
    (etc / "nsswitch.conf").write_text("hosts: files resolve dns\n")
    monkeypatch.setattr(resolver, "RESOLV_CONF", str(etc / "resolv.conf"))
    monkeypatch.setattr(resolver, "NSSWITCH_CONF", str(etc / "nsswitch.conf"))
    private = tmp_path / "private"
    private.mkdir()
    mounts = plan_resolver(private, ["10.213.1.2"])
    assert mounts == [
        (str(private / "resolv.conf"), str(tmp_path / "stub-resolv.conf")),
        (str(private / "nsswitch.conf"), str(etc / "nsswitch.conf")),
    ]
    assert (private / "resolv.conf").read_text() == "nameserver 10.213.1.2\nsearch lan\n"
    assert (private / "nsswitch.conf").read_text() == "hosts:          files dns\n"
