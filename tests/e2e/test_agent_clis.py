"""The real agent CLIs through `ccproxy run`, against a daemon and the fake provider on loopback only.

Claude Code, Codex CLI and gemini-cli are installed by `scripts/setup.sh` into `tests/agent_clis/`
(git-ignored `node_modules`); where npm could not install one, its tests are skipped with that reason.
Each CLI runs with HOME in a temp dir, its base URL at the daemon, telemetry and update checks off, and
HTTP(S)_PROXY at a closed loopback port, so anything it would send elsewhere fails instead of leaving.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import SECRETS, RunningDaemon, make_daemon
from tests.fakes.provider import FakeProvider

BIN = Path(__file__).resolve().parents[1] / "agent_clis" / "node_modules" / ".bin"
LOCKED = "echo vault is locked >&2; exit 7"
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, so a stray request fails at once

#: Quiet, offline, and the same on every machine: no telemetry, update checks, or trust prompts.
QUIET = {
    "HTTPS_PROXY": CLOSED, "HTTP_PROXY": CLOSED, "https_proxy": CLOSED, "http_proxy": CLOSED,
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "GEMINI_CLI_NO_RELAUNCH": "1",
    "GEMINI_CLI_TRUST_WORKSPACE": "true", "NO_COLOR": "1", "CI": "1",
    "ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": "", "OPENAI_API_KEY": "", "CODEX_API_KEY": "",
    "GEMINI_API_KEY": "", "GOOGLE_API_KEY": "",
}


def cli(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in {BIN.parent}: scripts/setup.sh installs it with npm "
                    "(skipped where the npm registry cannot be reached)")
    return path


def config(fake_host: str, command: str) -> dict[str, Any]:
    def entry(fmt: str) -> dict[str, Any]:
        return {"provider": fmt, "host": fake_host, "scheme": "http", "auth": {"type": "command", "command": command}}

    return {"providers": {"anthropic": entry("anthropic"), "openai": entry("openai_responses"),
                          "gemini": entry("gemini")}}


def _world_writable_above(path: Path) -> bool:
    return any(p.exists() and p.stat().st_mode & stat.S_IWOTH for p in path.resolve().parents)


def fresh_dir(name: str) -> Path:
    """An empty config dir under the repository's git-ignored `tests/agent_clis/run/`, or under
    `~/.cache/ccproxy-tests/` when the checkout lies below a world-writable directory (a clone in /tmp):
    gemini-cli refuses a defaults file there, and `ccproxy run` puts one in the config dir."""
    base = BIN.parents[1] / "run"
    if _world_writable_above(base):
        base = Path.home() / ".cache" / "ccproxy-tests" / "agent_clis"
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="module")
def locked(_fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    """A daemon whose every credential comes from a vault that is locked.

    Its config dir is under the repository, not /tmp: gemini-cli ignores a defaults file below a
    world-writable directory, and `ccproxy run` puts one in the config dir."""
    d = make_daemon(fresh_dir("locked"), None, config(_fake_session.host, LOCKED)).start()
    yield d
    d.stop()


def run(daemon: RunningDaemon, home: Path, *cmd: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """The CLI's result, and how many requests ccproxy refused while it ran."""
    before = len(refused_flows(daemon))
    res = daemon.cli("run", "--", *cmd, env={**QUIET, "HOME": str(home)}, timeout=240)
    return res, len(refused_flows(daemon)) - before


def refused_flows(daemon: RunningDaemon) -> list[dict[str, Any]]:
    res = daemon.cli("flows", "list", "--json")
    assert res.returncode == 0, res.stderr
    return [f for f in json.loads(res.stdout) if (f.get("response") or {}).get("status_code") == 400]


def assert_shown_at_once(ran: tuple[subprocess.CompletedProcess[str], int], provider: str) -> None:
    """The CLI printed ccproxy's message and gave up: no retries of a server error, nothing forwarded."""
    res, refused = ran
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "vault is locked" in out and f"providers.{provider}.auth" in out, out[-3000:]
    assert 0 < refused <= 6, f"{refused} requests: a client retrying a server error makes many more"


def test_claude_code_shows_a_credential_error_on_its_first_try(
    locked: RunningDaemon, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    assert_shown_at_once(run(locked, tmp_path, str(cli("claude")), "-p", "hi"), "anthropic")
    assert fake_provider.requests == []


def test_codex_shows_a_credential_error_on_its_first_try(
    locked: RunningDaemon, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    # Codex 0.171 reads its base URL from config.toml, not OPENAI_BASE_URL.
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(f'openai_base_url = "{locked.proxy_url}/v1"\n')
    assert_shown_at_once(run(locked, tmp_path, str(cli("codex")), "exec", "--skip-git-repo-check", "hi"), "openai")
    assert fake_provider.requests == []


@pytest.mark.timeout(300)  # gemini-cli itself idles for most of a minute at start on some machines
def test_gemini_cli_runs_on_a_fresh_home_and_shows_a_credential_error(
    locked: RunningDaemon, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    """Without `ccproxy run`'s auth type, gemini-cli exits 41: "Invalid auth method selected."."""
    ran = run(locked, tmp_path, str(cli("gemini")), "-p", "hi")
    assert "Invalid auth method" not in ran[0].stdout + ran[0].stderr
    assert_shown_at_once(ran, "gemini")
    assert fake_provider.requests == []


@pytest.fixture(scope="module")
def working(_fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    """A daemon with every provider at the fake and a credential for each (see `locked` for the dir)."""
    d = make_daemon(fresh_dir("working"), _fake_session.host).start()
    yield d
    d.stop()


@pytest.mark.timeout(300)  # a tool loop of gemini-cli's: two minutes, mostly gemini-cli waiting on itself
def test_ccproxy_run_gemini_answers_on_a_fresh_home(
    working: RunningDaemon, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    """`ccproxy run -- gemini -p` as documented: no auth set-up, no key, the answer comes through ccproxy."""
    res, _ = run(working, tmp_path, str(cli("gemini")), "-p", "hi")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    # the fake calls the first tool gemini-cli declares, then answers the tool result
    assert "The weather in Paris is sunny." in res.stdout or "Hello from the fake provider." in res.stdout
    assert fake_provider.requests and all(r.credential() == SECRETS["FAKE_GEMINI_KEY"] for r in fake_provider.requests)
