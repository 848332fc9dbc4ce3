from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from ccproxy.auth.resolver import CredentialResolver
from ccproxy.auth.sources import read_file, run_command
from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import CommandAuth, FileAuth
from ccproxy.errors import AuthError
from tests.daemon import wait_for


def test_command_is_run_on_every_resolve(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    counter.write_text("0")
    script = (
        f"{sys.executable} -c \"import pathlib; p = pathlib.Path({str(counter)!r}); "
        "n = int(p.read_text()) + 1; p.write_text(str(n)); print(f'token-{n}')\""
    )
    source = CommandAuth(type="command", command=script)
    assert asyncio.run(run_command("p", source)) == "token-1"
    assert asyncio.run(run_command("p", source)) == "token-2"


def test_file_is_read_on_every_resolve(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("one\n")
    source = FileAuth(type="file", path="key")
    assert read_file("p", source, tmp_path) == "one"
    (tmp_path / "key").write_text("two\n")
    assert read_file("p", source, tmp_path) == "two"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo nope >&2; exit 3", r"provider 'p': command `.*` exited 3: nope\. Check providers\.p\.auth"),
        ("true", r"provider 'p': command `true` printed nothing"),
    ],
)
def test_failing_commands_name_the_provider(command: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        asyncio.run(run_command("p", CommandAuth(type="command", command=command, timeout=0.2)))


def _dead(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (a killed orphan's parent is whatever reaps in this container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _kill_leftover(pidfile: Path) -> None:
    if pidfile.exists() and not _dead(pid := int(pidfile.read_text())):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("holds_pipes", [True, False], ids=["child-holds-stdout", "child-detached-from-pipes"])
def test_a_timed_out_command_is_killed_with_its_children(tmp_path: Path, holds_pipes: bool) -> None:
    """The shell's child (a `sleep 600` here) dies too; the error comes at the timeout, not when it exits."""
    pidfile = tmp_path / "pid"
    quiet = "" if holds_pipes else " >/dev/null 2>&1"
    source = CommandAuth(type="command", command=f"sleep 600{quiet} & echo $! > {pidfile}; wait", timeout=2)

    async def call() -> str:
        # A bound far above the timeout and far below the child's life: killing only the shell left
        # the child holding stdout, and the call waited for it (the 'timeout' lasted the child's 600 s).
        return await asyncio.wait_for(run_command("p", source), timeout=60)

    try:
        with pytest.raises(AuthError, match=r"did not finish in 2s \(it was killed\)"):
            asyncio.run(call())
        pid = int(pidfile.read_text())
        wait_for(lambda: _dead(pid), timeout=10, what=f"the command's child {pid} killed")
    finally:
        _kill_leftover(pidfile)


def test_a_cancelled_resolve_kills_the_command(tmp_path: Path) -> None:
    """The client went away while its credential command ran: nothing of the command is left running."""
    pidfile = tmp_path / "pid"
    source = CommandAuth(type="command", command=f"sleep 600 & echo $! > {pidfile}; wait", timeout=60)

    async def call_then_cancel() -> None:
        task = asyncio.create_task(run_command("p", source))
        for _ in range(1000):  # bounded: until the command has started its child
            if pidfile.exists() and pidfile.read_text().strip():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(asyncio.wait_for(call_then_cancel(), timeout=60))
        pid = int(pidfile.read_text())
        wait_for(lambda: _dead(pid), timeout=10, what=f"the command's child {pid} killed")
    finally:
        _kill_leftover(pidfile)


def test_a_failing_command_never_shows_its_stdout(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("secret-on-stdout\n")
    command = f"cat {tmp_path / 'secret'}; exit 1"
    with pytest.raises(AuthError) as info:
        asyncio.run(run_command("p", CommandAuth(type="command", command=command)))
    assert "secret-on-stdout" not in str(info.value)


def test_status_check_reports_ok_or_the_error_never_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_GOOD", "value-that-must-not-show")
    monkeypatch.delenv("T_MISSING", raising=False)
    config = CCProxyConfig.model_validate({
        "providers": {
            "good": {"host": "a.test", "auth": {"type": "env", "env": "T_GOOD"}},
            "missing": {"host": "b.test", "auth": {"type": "env", "env": "T_MISSING"}},
            "broken": {"host": "c.test", "auth": {"type": "command", "command": "exit 2"}},
        }
    })
    checks = asyncio.run(CredentialResolver(config, tmp_path).check_all())
    assert checks["good"] == "ok"
    assert "T_MISSING is not set" in checks["missing"]
    assert "provider 'broken'" in checks["broken"] and "exited 2" in checks["broken"]
    assert "value-that-must-not-show" not in repr(checks)
