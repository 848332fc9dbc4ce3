from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ccproxy.auth.resolver import CredentialResolver
from ccproxy.auth.sources import read_file, run_command
from ccproxy.config.model import CCProxyConfig, CommandAuth, FileAuth
from ccproxy.errors import AuthError


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
        ("echo nope >&2; exit 3", r"provider 'p': command `.*` exited 3: nope Check providers\.p\.auth"),
        ("true", r"provider 'p': command `true` printed nothing"),
        ("sleep 5", r"did not finish in 0\.2s"),
    ],
)
def test_failing_commands_name_the_provider(command: str, message: str) -> None:
    with pytest.raises(AuthError, match=message):
        asyncio.run(run_command("p", CommandAuth(type="command", command=command, timeout=0.2)))


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
