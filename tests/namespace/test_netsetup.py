"""Set-up commands: failures quote the tool's stderr; the policy route is the wg-quick recipe."""

from __future__ import annotations

import pytest

from ccproxy.errors import NamespaceError
from ccproxy.namespace.netsetup import route_commands, run, wait_until
from ccproxy.namespace.topology import TOPOLOGY


def test_failure_quotes_the_last_stderr_line() -> None:
    with pytest.raises(NamespaceError, match=r"routing failed: .*: no route, really"):
        run(["sh", "-c", "echo noise >&2; echo 'no route, really' >&2; exit 2"], what="routing")


def test_missing_binary_is_named() -> None:
    with pytest.raises(NamespaceError, match="no-such-tool-ccproxy is not installed"):
        run(["no-such-tool-ccproxy"])


def test_stdin_is_fed() -> None:
    assert run(["cat"], "PrivateKey = x\n") == "PrivateKey = x\n"


def test_everything_unmarked_goes_to_wg0() -> None:
    cmds = route_commands(TOPOLOGY, "/sbin/ip")
    assert ["/sbin/ip", "-4", "route", "add", "default", "dev", "wg0", "table", "51820"] in cmds
    rule = next(c for c in cmds if "rule" in c)
    assert rule[rule.index("not") + 1 : rule.index("not") + 3] == ["fwmark", "51820"]


def test_wait_until_reports_why_it_gave_up() -> None:
    with pytest.raises(NamespaceError, match="gave up waiting for the thing: it died"):
        wait_until(lambda: False, 5, lambda: "it died", "the thing")
    with pytest.raises(NamespaceError, match="after 0s"):
        wait_until(lambda: False, 0.05, lambda: None, "the other thing")
