"""The daemon's lifecycle and the CLI around it: start, status, logs, init, run, config errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
import yaml

from tests.daemon import SECRETS, RunningDaemon, free_port, make_daemon, wait_for
from tests.fakes.provider import FakeProvider


def ccproxy(config_dir: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCPROXY_")}
    return subprocess.run(
        [sys.executable, "-m", "ccproxy.cli.main", "--config", str(config_dir), *args],
        capture_output=True, text=True, timeout=60, env={**env, **(extra_env or {})},
    )


def test_state_and_log_files_are_private_and_complete(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    assert fake_provider.requests == [], "start-up sends no traffic anywhere"
    state_file = daemon.config_dir / "ccproxy.state.json"
    for path in (state_file, daemon.config_dir / "ccproxy.log"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    state = daemon.state
    assert state["pid"] == daemon.proc.pid  # type: ignore[union-attr]
    assert state["listeners"]["proxy"]["url"] == daemon.proxy_url
    assert state["listeners"]["inspector"]["port"] == daemon.config["ccproxy"]["inspector"]["port"]
    assert state["web_token"] and state["version"] and state["started_at"] > 0
    assert daemon.stop() == 0
    assert not state_file.exists(), "the state file is removed on exit"


def test_second_start_and_busy_port_fail_fast(daemon: RunningDaemon, tmp_path: Path) -> None:
    res = daemon.cli("start")
    assert res.returncode == 1
    assert f"already runs for {daemon.config_dir}" in res.stderr
    assert "Traceback" not in res.stderr

    other = make_daemon(tmp_path / "other", None, {"port": daemon.port})
    other.config_dir.mkdir()
    (other.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(other.config))
    res = other.cli("start")
    assert res.returncode == 1
    assert f"reverse proxy port 127.0.0.1:{daemon.port} is already in use" in res.stderr
    assert "ccproxy.port" in res.stderr


def test_status_report_health_bits_and_mermaid(daemon: RunningDaemon) -> None:
    doc = json.loads(daemon.cli("status", "--json").stdout)
    assert doc["running"] is True and doc["proxy"]["up"] is True and doc["inspector"]["up"] is True
    assert doc["inspector"]["token"].startswith("<hidden")
    assert [h["name"] for h in doc["pipeline"]["inbound"]] == ["inject_auth", "extract_session_id"]
    assert doc["pipeline"]["inbound"][0]["writes"] == ["metadata.provider", "request.headers", "request.query"]
    assert doc["providers"]["anthropic"]["auth"] == "env"
    assert SECRETS["FAKE_ANTHROPIC_KEY"] not in json.dumps(doc)
    shown = json.loads(daemon.cli("status", "--json", "--show-secrets").stdout)
    assert shown["inspector"]["token"] == daemon.state["web_token"]

    table = daemon.cli("status")
    assert table.returncode == 0 and "inject_auth" in table.stdout and "up" in table.stdout

    assert daemon.cli("status", "--proxy", "--inspect").returncode == 0
    checks = daemon.cli("status", "--proxy", "--inspect", "--json")
    assert json.loads(checks.stdout) == {"proxy": True, "inspector": True}

    mermaid = daemon.cli("status", "--mermaid").stdout
    assert mermaid.startswith("stateDiagram-v2")
    assert "inject_auth" in mermaid and "inbound --> router" in mermaid

    daemon.stop()
    assert daemon.cli("status", "--proxy", "--inspect").returncode == 3
    assert daemon.cli("status", "--proxy").returncode == 1
    assert daemon.cli("status", "--inspect").returncode == 2
    report = json.loads(daemon.cli("status", "--json").stdout)
    assert report["running"] is False


def test_status_mcp_bit_when_disabled(daemon_factory: Any) -> None:
    d = daemon_factory(config={"mcp": {"http": {"enabled": False}}})
    res = d.cli("status", "--proxy", "--inspect", "--mcp")
    assert res.returncode == 4
    assert "mcp: down" in res.stdout


def test_logs_and_no_secret_in_them(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    httpx.post(daemon.proxy_url + "/v1/messages", headers={"x-api-key": "sk-ant-oat-ccproxy-nosuch"}, json={})
    wait_for(lambda: "nosuch" in daemon.log_text(), 5, what="the auth error in the log")
    res = daemon.cli("logs", "-n", "3")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 3
    assert "ready: proxy" in daemon.cli("logs", "-n", "1000").stdout
    daemon.stop()
    text = daemon.log_text() + daemon.output() + json.dumps(daemon.config)
    for secret in SECRETS.values():
        assert secret not in text


def test_logs_follow(daemon: RunningDaemon) -> None:
    proc = subprocess.Popen(daemon.command("logs", "-f", "-n", "2"), stdout=subprocess.PIPE, text=True,
                            env=daemon.env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_for(lambda: len(lines) >= 2, 15, what="the log tail")
        httpx.post(daemon.proxy_url + "/v1/messages", headers={"x-api-key": "sk-ant-oat-ccproxy-followme"}, json={})
        wait_for(lambda: any("followme" in line for line in lines), 15, what="a followed log line")
    finally:
        proc.terminate()
        proc.wait(5)


def test_logs_without_a_log(tmp_path: Path) -> None:
    res = ccproxy(tmp_path, "logs")
    assert res.returncode == 1 and "ccproxy start" in res.stderr


def test_init_and_force(tmp_path: Path) -> None:
    res = ccproxy(tmp_path, "init")
    assert res.returncode == 0 and (tmp_path / "ccproxy.yaml").exists()
    again = ccproxy(tmp_path, "init")
    assert again.returncode == 2 and "--force" in again.stderr
    assert ccproxy(tmp_path, "init", "--force").returncode == 0
    assert json.loads(ccproxy(tmp_path, "status", "--json").stdout)["providers"]["anthropic"]["auth"] == "env"


def test_config_errors_exit_2_with_key_path(tmp_path: Path) -> None:
    cases = {
        "ccproxy: [oops": "not valid YAML",
        "ccproxy:\n  providers:\n    a: {host: h, auth: {type: vault}}\n": "ccproxy.providers.a.auth",
        "ccproxy:\n  providers:\n    a: {host: h}\n  inspector: {transforms: [{match_path: '(', dest_provider: a}]}\n":
            "ccproxy.inspector.transforms[0].match_path: invalid regex",
        "ccproxy:\n  hooks: {inbound: [no.such.hook]}\n": "hooks.inbound[0]: cannot import hook 'no.such.hook'",
        "ccproxy:\n  port: 99999\n": "ccproxy.port: 99999 is not a port",
        "ccproxy:\n  port: 65536\n": "ccproxy.port: 65536 is not a port",
        "ccproxy:\n  port: -1\n": "ccproxy.port: -1 is not a port",
        "ccproxy:\n  port: true\n": "ccproxy.port: True is not a port",
        "ccproxy:\n  port: 8083\n": "ccproxy.inspector.port: 8083 is also ccproxy.port",
    }
    for text, expected in cases.items():
        (tmp_path / "ccproxy.yaml").write_text(text)
        for args in (("start",), ("status",)):
            res = ccproxy(tmp_path, *args)
            assert res.returncode == 2, (text, res.stderr)
            assert expected in res.stderr, (expected, res.stderr)
            assert "Traceback" not in res.stderr
            assert str(tmp_path / "ccproxy.yaml") in res.stderr or "hooks." in res.stderr
            assert "web_port" not in res.stderr, "no hint at a mitmproxy option ccproxy does not have"


def test_hook_cycle_is_reported(tmp_path: Path) -> None:
    mod = tmp_path / "cyclehooks.py"
    mod.write_text(textwrap.dedent("""
        from ccproxy.pipeline.hook import hook

        @hook(reads=["a"], writes=["b"])
        def first(ctx): pass

        @hook(reads=["b"], writes=["a"])
        def second(ctx): pass
    """))
    (tmp_path / "ccproxy.yaml").write_text(
        "ccproxy:\n  hooks:\n    inbound: [cyclehooks.first, cyclehooks.second]\n"
    )
    res = ccproxy(tmp_path, "start", extra_env={"PYTHONPATH": str(tmp_path)})
    assert res.returncode == 2
    assert "hooks first, second form a cycle" in res.stderr


def test_run_sets_base_urls_and_passes_exit_code(daemon: RunningDaemon) -> None:
    script = (
        "import os, sys; print(os.environ['ANTHROPIC_BASE_URL'], os.environ['OPENAI_BASE_URL'], "
        "os.environ['OPENAI_API_BASE'], os.environ['GOOGLE_GEMINI_BASE_URL']); "
        "print(sys.stdin.read().upper()); sys.exit(7)"
    )
    res = daemon.cli("run", "--", sys.executable, "-c", script, input="piped in")
    assert res.returncode == 7
    urls, echoed = res.stdout.splitlines()
    url = daemon.proxy_url
    assert urls.split() == [url, f"{url}/v1", f"{url}/v1", url]
    assert echoed == "PIPED IN"


def test_run_real_sdk_client_is_captured(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    script = (
        "import anthropic; c = anthropic.Anthropic(api_key='sk-ant-oat-ccproxy-anthropic'); "
        "print(c.messages.create(model='m', max_tokens=8, messages=[{'role':'user','content':'hi'}]).content[0].text)"
    )
    res = daemon.cli("run", "--", sys.executable, "-c", script)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Hello from the fake provider."
    assert fake_provider.requests[-1].headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]


def test_run_forwards_signals(daemon: RunningDaemon, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "for _ in range(600): time.sleep(0.05)\n"
        "sys.exit(1)\n"
    )
    proc = subprocess.Popen(daemon.command("run", "--", sys.executable, "-c", script), env=daemon.env)
    wait_for(ready.exists, 20, what="the child to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 42


def test_run_relays_sigint_even_when_the_shell_ignored_it(daemon: RunningDaemon, tmp_path: Path) -> None:
    """`ccproxy run ... &` from a script starts with SIGINT ignored; the command still gets the default."""
    ready = tmp_path / "ready"
    script = (
        "import pathlib, signal, sys, time\n"
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "for _ in range(600): time.sleep(0.05)\n"
        "sys.exit(1)\n"
    )
    ignoring_shell = ["sh", "-c", 'trap "" INT QUIT; exec "$@"', "sh"]
    proc = subprocess.Popen([*ignoring_shell, *daemon.command("run", "--", sys.executable, "-c", script)],
                            env=daemon.env, stdout=subprocess.PIPE, text=True)
    wait_for(ready.exists, 20, what="the child to start")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert out.strip() == "False", "the command starts with SIGINT at its default"
    assert proc.returncode == 130


def test_run_errors(daemon: RunningDaemon, tmp_path: Path) -> None:
    res = daemon.cli("run", "--", "definitely-not-a-command-xyz")
    assert res.returncode == 127 and "command not found: definitely-not-a-command-xyz" in res.stderr
    assert daemon.cli("run").returncode == 2
    nothing = ccproxy(tmp_path, "run", "--", "true")
    assert nothing.returncode == 1
    assert "no ccproxy daemon is running" in nothing.stderr and "start" in nothing.stderr


def test_help_does_not_import_mitmproxy() -> None:
    code = "import sys; from ccproxy.cli.main import build_parser; build_parser(); print('mitmproxy' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert res.stdout.strip() == "False"



# --- ports chosen at start: port 0 and the overrides ----------------------------------------------


def test_port_zero_records_and_uses_the_bound_ports(daemon_factory: Any, fake_provider: FakeProvider) -> None:
    d = daemon_factory(config={"port": 0, "inspector": {"port": 0}, "mcp": {"http": {"port": 0}}})
    listeners = d.state["listeners"]
    ports = {name: listeners[name]["port"] for name in ("proxy", "inspector", "mcp")}
    assert all(port > 0 for port in ports.values()), ports
    assert listeners["proxy"]["url"] == f"http://127.0.0.1:{ports['proxy']}"
    assert httpx.get(listeners["proxy"]["url"] + "/health").json()["listeners"]["proxy"] == listeners["proxy"]["url"]

    doc = json.loads(d.cli("status", "--json").stdout)
    assert doc["proxy"] == {"url": listeners["proxy"]["url"], "up": True}
    assert doc["inspector"]["url"] == listeners["inspector"]["url"] and doc["inspector"]["up"] is True
    assert doc["mcp"]["url"] == listeners["mcp"]["url"] and doc["mcp"]["up"] is True
    assert d.cli("status", "--proxy", "--inspect", "--mcp").returncode == 0

    script = (
        "import os, anthropic; print(os.environ['ANTHROPIC_BASE_URL']); c = anthropic.Anthropic(api_key='sk-ant-oat-ccproxy-anthropic'); "
        "print(c.messages.create(model='m', max_tokens=8, messages=[{'role':'user','content':'hi'}]).content[0].text)"
    )
    res = d.cli("run", "--", sys.executable, "-c", script)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [listeners["proxy"]["url"], "Hello from the fake provider."]


def start_with(d: RunningDaemon, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    d.config_dir.mkdir(parents=True, exist_ok=True)
    (d.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(d.config))
    d.proc = subprocess.Popen(d.command("start", "--quiet", *args), env={**d.env, **(env or {})},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return d.proc


def test_start_port_flags_and_env_override_the_config_without_writing_it(tmp_path: Path, fake_provider: FakeProvider) -> None:
    d = make_daemon(tmp_path / "flags", fake_provider.host)
    written = yaml.safe_dump(d.config)
    port, web, mcp = free_port(), free_port(), free_port()
    start_with(d, "--port", str(port), "--inspector-port", str(web), "--mcp-port", str(mcp))
    try:
        wait_for(lambda: d.proc.poll() is not None or read_listeners(d.config_dir), 60, what="the state file")
        listeners = read_listeners(d.config_dir)
        assert (listeners["proxy"]["port"], listeners["inspector"]["port"], listeners["mcp"]["port"]) == (port, web, mcp)
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        assert (d.config_dir / "ccproxy.yaml").read_text() == written
    finally:
        d.stop()

    env_port = free_port()
    start_with(d, env={"CCPROXY_PORT": str(env_port)})
    try:
        wait_for(lambda: d.proc.poll() is not None or read_listeners(d.config_dir), 60, what="the state file")
        assert read_listeners(d.config_dir)["proxy"]["port"] == env_port
    finally:
        d.stop()


def test_bad_port_overrides_are_config_errors(tmp_path: Path, fake_provider: FakeProvider) -> None:
    d = make_daemon(tmp_path / "bad", fake_provider.host)
    cases = [
        ((["--port", "99999"], {}), ["ccproxy.port: 99999 is not a port", "set by --port"]),
        ((["--mcp-port", "x"], {}), ["--mcp-port: 'x' is not a port"]),
        (([], {"CCPROXY_INSPECTOR_PORT": str(d.port)}), ["is also ccproxy.port", "set by CCPROXY_INSPECTOR_PORT"]),
    ]
    for (args, env), expected in cases:
        proc = start_with(d, *args, env=env)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, err
        text = err.decode()
        assert all(part in text for part in expected), text
        assert "Traceback" not in text
    status = d.cli("status", env={"CCPROXY_PORT": "true"})
    assert status.returncode == 2 and "CCPROXY_PORT: 'true' is not a port" in status.stderr


def read_listeners(config_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((config_dir / "ccproxy.state.json").read_text())["listeners"])
    except (OSError, ValueError):
        return None


# --- credentials: `status` shows the daemon's view ------------------------------------------------


def test_status_shows_the_daemons_credential_view(daemon_factory: Any) -> None:
    d = daemon_factory(env={"FAKE_GEMINI_KEY": ""})  # the daemon has no gemini key
    shell = {**SECRETS, "FAKE_ANTHROPIC_KEY": ""}  # this shell has a gemini key but no anthropic key
    res = d.cli("status", "--json", env=shell)
    doc = json.loads(res.stdout)
    assert doc["auth_view"] == "daemon"
    checks = {name: p.get("auth_check") for name, p in doc["providers"].items()}
    assert checks["anthropic"] == "ok", "the daemon has the key this shell lacks"
    assert "FAKE_GEMINI_KEY is not set" in checks["gemini"], "this shell's key does not help the daemon"
    table = d.cli("status", env=shell)
    assert f"as the daemon (pid {d.proc.pid}) resolves them" in table.stdout
    for secret in SECRETS.values():
        assert secret not in res.stdout + table.stdout

    d.stop()
    doc = json.loads(d.cli("status", "--json", env=shell).stdout)
    assert doc["auth_view"] == "shell"
    assert "FAKE_ANTHROPIC_KEY is not set" in doc["providers"]["anthropic"]["auth_check"]
    assert doc["providers"]["gemini"]["auth_check"] == "ok"


def test_the_auth_view_needs_the_web_token(daemon: RunningDaemon) -> None:
    assert httpx.get(daemon.inspector_url + "/ccproxy/auth").status_code == 403
    ok = httpx.get(daemon.inspector_url + "/ccproxy/auth", headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    assert ok.status_code == 200 and ok.json()["checks"]["anthropic"] == "ok"


# --- which daemon runs: the lock, `stop` ----------------------------------------------------------


def test_a_stale_state_file_with_a_reused_pid_is_ignored_by_every_command(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    d = make_daemon(tmp_path / "stale", fake_provider.host)
    d.config_dir.mkdir(parents=True)
    state = {
        "pid": os.getpid(),  # alive, and not a ccproxy daemon: what a reused pid looks like
        "version": "0", "started_at": 1.0, "config_dir": str(d.config_dir), "web_token": "t",
        "listeners": {"proxy": {"url": d.proxy_url, "host": "127.0.0.1", "port": d.port}},
    }
    (d.config_dir / "ccproxy.state.json").write_text(json.dumps(state))
    (d.config_dir / "ccproxy.yaml").write_text(yaml.safe_dump(d.config))
    assert json.loads(d.cli("status", "--json").stdout)["running"] is False
    run = d.cli("run", "--", "true")
    assert run.returncode == 1 and "no ccproxy daemon is running" in run.stderr
    stop = d.cli("stop")
    assert stop.returncode == 1 and "nothing to stop" in stop.stderr
    d.start()  # not refused: the pid in the file does not hold the daemon lock
    try:
        assert d.state["pid"] == d.proc.pid  # type: ignore[union-attr]
        assert json.loads(d.cli("status", "--json").stdout)["pid"] == d.proc.pid  # type: ignore[union-attr]
    finally:
        d.stop()


def test_stop_ends_the_daemon_and_start_names_it(daemon: RunningDaemon) -> None:
    again = daemon.cli("start")
    assert again.returncode == 1 and "`ccproxy stop`" in again.stderr and f"pid {daemon.proc.pid}" in again.stderr  # type: ignore[union-attr]
    res = daemon.cli("stop")
    assert res.returncode == 0, res.stderr
    assert f"pid {daemon.proc.pid}" in res.stdout  # type: ignore[union-attr]
    assert not (daemon.config_dir / "ccproxy.state.json").exists(), "stop returns once the daemon let go"
    assert daemon.proc.poll() == 0, "stop returns once the process has exited"  # type: ignore[union-attr]
    none = daemon.cli("stop")
    assert none.returncode == 1 and "no ccproxy daemon is running" in none.stderr


def test_allow_remote_is_loud_in_status_and_has_a_token(daemon_factory: Any) -> None:
    daemon = daemon_factory({"allow_remote": True})  # still bound to loopback: nothing leaves this machine
    doc = json.loads(daemon.cli("status", "--json").stdout)
    assert doc["remote"] == {"exposed": False, "allow_remote": True, "token_header": "x-ccproxy-token",
                             "token": "<hidden: --show-secrets>"}
    shown = json.loads(daemon.cli("status", "--json", "--show-secrets").stdout)
    token = shown["remote"]["token"]
    assert isinstance(token, str) and len(token) >= 24 and token not in daemon.log_text()
    assert (daemon.config_dir / "ccproxy.state.json").stat().st_mode & 0o777 == 0o600


def test_a_picked_port_is_never_a_configured_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel may hand back a configured port whose listener is not bound yet: free_port skips it."""
    import socket

    from ccproxy.daemon import server

    offered = iter([4000, 4000, 4100, 4200])

    class FakeSocket:
        def __init__(self, *args: Any) -> None:
            self.port = next(offered)

        def __enter__(self) -> FakeSocket:
            return self

        def __exit__(self, *args: Any) -> None:
            return None

        def bind(self, address: Any) -> None:
            return None

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(server.socket, "socket", FakeSocket)
    taken = {4000}
    assert server.free_port("127.0.0.1", socket.SOCK_STREAM, taken) == 4100
    assert server.free_port("127.0.0.1", socket.SOCK_STREAM, taken) == 4200  # what it picked is taken too
