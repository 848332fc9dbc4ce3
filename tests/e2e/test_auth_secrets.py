"""No credential in any log line, the state file, a flow record, an export or mitmweb's flow API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.daemon import SECRETS, RunningDaemon, wait_for
from tests.e2e.test_auth import CLIENT_SECRET, REVOKED, ask, counter_command, oauth_provider, write_tokens
from tests.fakes.oauth import FakeTokenEndpoint, access_for, refresh_for
from tests.fakes.provider import FakeProvider


@pytest.fixture
def endpoint() -> Iterator[FakeTokenEndpoint]:
    fake = FakeTokenEndpoint().start()
    yield fake
    fake.stop()


def mitmweb_flows(daemon: RunningDaemon) -> str:
    req = urllib.request.Request(
        daemon.inspector_url + "/flows", headers={"authorization": f"Bearer {daemon.state['web_token']}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.read().decode())


def test_no_secret_anywhere(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, endpoint: FakeTokenEndpoint,
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-expired-very-secret", -30)
    rotating = {"provider": "openai", "host": fake_provider.host, "scheme": "http",
                "auth": {"type": "command", "command": counter_command(tmp_path, "cmd-secret")}}
    daemon = daemon_factory({"providers": {
        "claude": oauth_provider(fake_provider, token_file, endpoint), "rotating": rotating,
    }})
    wait_for(lambda: endpoint.issued == 1, 10, 0.05, "the start-up refresh")

    # expiry at start-up, then a 401 forcing a second refresh, JSON and streamed
    fake_provider.required_token = access_for(1)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-claude", max_retries=0)
    assert ask(client) == "Hello from the fake provider."
    write_tokens(token_file, REVOKED, 3600, refresh=refresh_for(1))
    fake_provider.required_token = access_for(2)
    assert ask(client) == "Hello from the fake provider."
    with client.messages.stream(model="m", max_tokens=8, messages=[{"role": "user", "content": "s"}]) as stream:
        assert "".join(stream.text_stream) == "Hello from the fake provider."
    # a rotating command credential replayed after a 401, plus plain env credentials
    fake_provider.required_token = "cmd-secret-2"
    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-rotating", max_retries=0)
    assert oai.chat.completions.create(model="g", messages=[{"role": "user", "content": "x"}]).choices
    fake_provider.required_token = None
    env_client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    assert ask(env_client) == "Hello from the fake provider."
    # a failing refresh, whose error must not echo the refresh token it used
    write_tokens(token_file, REVOKED, 3600, refresh=refresh_for(2))
    endpoint.fail = (400, "invalid_grant")
    fake_provider.required_token = "something-else"
    with pytest.raises(anthropic.AuthenticationError):
        ask(client)

    secrets = {
        *SECRETS.values(), CLIENT_SECRET, REVOKED, "oauth-access-expired-very-secret",
        *(access_for(n) for n in range(endpoint.issued + 1)),
        *(refresh_for(n) for n in range(endpoint.issued + 1)),
        "cmd-secret-1", "cmd-secret-2",
    }
    wait_for(lambda: len(json.loads(daemon.cli("flows", "list", "--json").stdout)) >= 6, 15, 0.1, "6 flows")
    records = json.loads(daemon.cli("flows", "list", "--json").stdout)
    assert any(r["ccproxy"]["auth_replayed"] for r in records)
    texts: dict[str, str] = {
        "log": daemon.log_text(),
        "daemon output": daemon.output(),
        "state file": (daemon.config_dir / "ccproxy.state.json").read_text(),
        "flows list": json.dumps(records),
        "flows dump": daemon.cli("flows", "dump").stdout,
        "flows dump --unredacted": daemon.cli("flows", "dump", "--unredacted").stdout,
        "mitmweb /flows": mitmweb_flows(daemon),
        "status": daemon.cli("status", "--json").stdout,
    }
    for record in records:
        texts[f"flows show {record['id']}"] = daemon.cli("flows", "show", record["id"], "--json").stdout
        texts[f"flows show {record['id']} --raw"] = daemon.cli("flows", "show", record["id"], "--raw").stdout
    assert "invalid_grant" in texts["log"]
    daemon.stop()
    # every byte the daemon left in its config dir, except the config file the user wrote the client secret in
    for path in daemon.config_dir.rglob("*"):
        if path.is_file() and path.name != "ccproxy.yaml":
            texts[str(path)] = path.read_bytes().decode("latin-1")
    leaks = [(where, secret) for where, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
    assert all(texts[k] for k in ("log", "flows dump", "mitmweb /flows"))


STDERR_SECRETS = ("hunter2-vault-pass", "sk-live-0123456789abcdef")


def test_secrets_in_a_commands_stderr_or_an_oauth_echo_are_scrubbed_everywhere(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, endpoint: FakeTokenEndpoint,
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-fresh-very-secret", 3600)
    leaky_command = (f"echo 'vault said: password={STDERR_SECRETS[0]}; rejected key {STDERR_SECRETS[1]}' >&2; "
                     "exit 3")
    leaky = {"provider": "openai", "host": fake_provider.host, "scheme": "http",
             "auth": {"type": "command", "command": leaky_command}}
    daemon = daemon_factory({"providers": {
        "claude": oauth_provider(fake_provider, token_file, endpoint), "leaky": leaky,
    }})
    endpoint.fail, endpoint.echo_form = (400, "invalid_request"), True
    write_tokens(token_file, "oauth-access-expired-very-secret", -30)  # the next resolve refreshes, and fails

    answers = []
    for sentinel, path in (("sk-ant-oat-ccproxy-leaky", "/v1/chat/completions"),
                           ("sk-ant-oat-ccproxy-claude", "/v1/messages")):
        req = urllib.request.Request(daemon.proxy_url + path, data=b'{"model": "m", "messages": []}', headers={
            "authorization": f"Bearer {sentinel}", "x-api-key": sentinel, "content-type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=30)
        except urllib.error.HTTPError as exc:
            answers.append(exc.read().decode())
    assert len(answers) == 2 and "exited 3" in answers[0] and "invalid_request" in answers[1], answers
    wait_for(lambda: len(json.loads(daemon.cli("flows", "list", "--json").stdout)) >= 2, 15, 0.1, "2 flows")
    auth_req = urllib.request.Request(daemon.inspector_url + "/ccproxy/auth",
                                      headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    with urllib.request.urlopen(auth_req, timeout=60) as resp:
        auth_view = resp.read().decode()
    status = json.loads(daemon.cli("status", "--json").stdout)
    checks = {name: p.get("auth_check", "") for name, p in status["providers"].items()}
    assert "exited 3" in checks["leaky"] and "[REDACTED]" in checks["leaky"], checks
    assert "invalid_request" in checks["claude"], checks
    assert daemon.cli("flows", "export", "--html", str(tmp_path / "x.html")).returncode == 0
    texts = {
        "502 bodies": "\n".join(answers), "/ccproxy/auth": auth_view, "status --json": json.dumps(status),
        "flows list": daemon.cli("flows", "list", "--json").stdout, "flows dump": daemon.cli("flows", "dump").stdout,
        "html export": (tmp_path / "x.html").read_text(), "log": daemon.log_text(),
    }
    secrets = (*STDERR_SECRETS, CLIENT_SECRET, refresh_for(0))
    leaks = [(where, secret) for where, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []
