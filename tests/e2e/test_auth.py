"""Credentials that stay fresh, end to end: OAuth refresh, 401 -> re-resolve -> replay, command rotation."""

from __future__ import annotations

import json
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.oauth import FakeTokenEndpoint, access_for, refresh_for
from tests.fakes.provider import FakeProvider

CLIENT_SECRET = "oauth-client-secret-never-logged"
REVOKED = "oauth-access-revoked-very-secret"

Factory = Callable[..., RunningDaemon]


@pytest.fixture
def endpoint() -> Iterator[FakeTokenEndpoint]:
    fake = FakeTokenEndpoint().start()
    yield fake
    fake.stop()


def write_tokens(path: Path, access: str, expires_in: float, refresh: str = refresh_for(0)) -> None:
    doc = {
        "claudeAiOauth": {
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": int((time.time() + expires_in) * 1000),
            "scopes": ["user:inference"],
            "subscriptionType": "pro",
        },
        "otherTool": {"keep": "me"},
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o600)


def oauth_provider(fake: FakeProvider, token_file: Path, endpoint: FakeTokenEndpoint, fmt: str = "anthropic") -> dict[str, Any]:
    return {
        "provider": fmt,
        "host": fake.host,
        "scheme": "http",
        "auth": {
            "type": "oauth",
            "file_path": str(token_file),
            "access_path": "claudeAiOauth.accessToken",
            "refresh_path": "claudeAiOauth.refreshToken",
            "expiry_path": "claudeAiOauth.expiresAt",
            "token_url": endpoint.url,
            "client_id": "ccproxy-test-client",
            "client_secret": CLIENT_SECRET,
            "header": "authorization",
        },
    }


def start(factory: Factory, fake: FakeProvider, token_file: Path, endpoint: FakeTokenEndpoint,
          **extra: Any) -> RunningDaemon:
    providers = {
        "claude": oauth_provider(fake, token_file, endpoint),
        "codex": oauth_provider(fake, token_file, endpoint, "openai"),
        **extra.pop("providers", {}),
    }
    return factory({"providers": providers, **extra})


def claude(daemon: RunningDaemon) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-claude", max_retries=0)


def ask(client: anthropic.Anthropic, text: str = "hi") -> str:
    msg = client.messages.create(model="claude-test", max_tokens=32, messages=[{"role": "user", "content": text}])
    block = msg.content[0]
    assert block.type == "text"
    return block.text


def flows(daemon: RunningDaemon) -> list[dict[str, Any]]:
    out = daemon.cli("flows", "list", "--json")
    assert out.returncode == 0, out.stderr
    result: list[dict[str, Any]] = json.loads(out.stdout)
    return result


def newest_flow(daemon: RunningDaemon, count: int) -> dict[str, Any]:
    """The newest flow once the store holds `count` flows (the recorder writes in the background)."""
    found = wait_for(lambda: (f := flows(daemon)) and len(f) >= count and f, 15, 0.1, f"{count} stored flows")
    return found[-1]  # type: ignore[no-any-return]


def test_expired_token_is_refreshed_at_start_up(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-expired-very-secret", -30)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    wait_for(lambda: "access token refreshed" in daemon.log_text(), 10, 0.05, "the start-up refresh")
    assert len(endpoint.calls) == 1
    call = endpoint.calls[0].fields
    assert (call["refresh_token"], call["client_id"], call["client_secret"]) == (
        refresh_for(0), "ccproxy-test-client", CLIENT_SECRET
    )
    doc = json.loads(token_file.read_text())
    assert doc["claudeAiOauth"]["accessToken"] == access_for(1)
    assert doc["claudeAiOauth"]["refreshToken"] == refresh_for(1)
    assert doc["claudeAiOauth"]["scopes"] == ["user:inference"] and doc["otherTool"] == {"keep": "me"}
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    fake_provider.required_token = access_for(1)
    assert ask(claude(daemon)) == "Hello from the fake provider."
    assert fake_provider.requests[-1].headers["authorization"] == f"Bearer {access_for(1)}"
    assert len(endpoint.calls) == 1


def test_file_is_the_source_of_truth_and_near_expiry_refreshes_on_use(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-first-very-secret", 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    client = claude(daemon)
    fake_provider.required_token = "oauth-access-first-very-secret"
    assert ask(client) == "Hello from the fake provider."
    # another tool refreshes the file on its own: the next request uses its token
    write_tokens(token_file, "oauth-access-other-tool-very-secret", 3600)
    fake_provider.required_token = "oauth-access-other-tool-very-secret"
    assert ask(client) == "Hello from the fake provider."
    # then the token gets within a minute of expiry: ccproxy refreshes before sending
    write_tokens(token_file, "oauth-access-other-tool-very-secret", 30)
    fake_provider.required_token = access_for(1)
    assert ask(client) == "Hello from the fake provider."
    assert len(endpoint.calls) == 1
    assert [r.credential() for r in fake_provider.requests] == [
        "oauth-access-first-very-secret", "oauth-access-other-tool-very-secret", access_for(1)
    ]
    assert json.loads(token_file.read_text())["otherTool"] == {"keep": "me"}


def test_401_refreshes_and_replays_json(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, REVOKED, 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    fake_provider.required_token = access_for(1)
    assert ask(claude(daemon)) == "Hello from the fake provider."
    assert [r.credential() for r in fake_provider.requests] == [REVOKED, access_for(1)]
    assert fake_provider.requests[0].body == fake_provider.requests[1].body
    assert len(endpoint.calls) == 1
    flow = newest_flow(daemon, 1)
    ccp = flow["ccproxy"]
    assert (ccp["auth_injected"], ccp["auth_refreshed"], ccp["auth_replayed"]) == (True, True, True)
    assert ccp["extra"]["auth"] == {"status": 401, "renewed": "refreshed", "replay_status": 200}
    assert flow["response"]["status_code"] == 200
    show = daemon.cli("flows", "show", flow["id"])
    assert show.returncode == 0, show.stderr
    assert "401" in show.stdout and "replayed" in show.stdout
    log = daemon.log_text()
    assert "answered 401; re-resolving its credential" in log
    assert "credential refreshed at the token endpoint; replaying once" in log and "replay answered 200" in log


def test_401_refreshes_and_replays_anthropic_stream(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, REVOKED, 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    fake_provider.required_token = access_for(1)
    with claude(daemon).messages.stream(
        model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "stream"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake provider."
    assert final.stop_reason == "end_turn"
    assert [r.credential() for r in fake_provider.requests] == [REVOKED, access_for(1)]
    flow = newest_flow(daemon, 1)
    assert flow["ccproxy"]["auth_replayed"] is True
    record = json.loads(daemon.cli("flows", "show", flow["id"], "--json").stdout)
    events = json.dumps(record)
    assert "message_stop" in events and "invalid x-api-key" not in events


def test_401_refreshes_and_replays_openai_stream(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, REVOKED, 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    fake_provider.required_token = access_for(1)
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-codex", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello from the fake provider."
    assert [r.credential() for r in fake_provider.requests] == [REVOKED, access_for(1)]


def test_many_concurrent_401s_cause_one_refresh(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, REVOKED, 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    fake_provider.required_token = access_for(1)
    endpoint.hold = threading.Event()
    n = 12
    results: list[int] = []

    def one(i: int) -> None:
        body = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": f"q{i}"}]}
        headers = {"x-api-key": "sk-ant-oat-ccproxy-claude", "anthropic-version": "2023-06-01"}
        resp = httpx.post(daemon.proxy_url + "/v1/messages", json=body, headers=headers, timeout=30)
        results.append(resp.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        # every request got its 401 before the one refresh is let through
        wait_for(lambda: len(fake_provider.requests) >= n and endpoint.arrived.is_set(), 20, 0.02, "all 401s")
    finally:
        endpoint.hold.set()
        for t in threads:
            t.join(30)
    assert results == [200] * n
    assert len(endpoint.calls) == 1
    creds = [r.credential() for r in fake_provider.requests]
    assert creds.count(REVOKED) == n and creds.count(access_for(1)) == n


def test_many_concurrent_requests_on_an_expiring_token_cause_one_refresh(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-first-very-secret", 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    write_tokens(token_file, "oauth-access-first-very-secret", 10)  # now inside the refresh margin
    fake_provider.required_token = access_for(1)
    client = claude(daemon)
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(ask(client))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == ["Hello from the fake provider."] * 10
    assert len(endpoint.calls) == 1
    assert {r.credential() for r in fake_provider.requests} == {access_for(1)}


def test_failing_refresh_is_a_clear_error_and_leaves_the_file_alone(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-expired-very-secret", -30)
    original = token_file.read_bytes()
    endpoint.fail = (400, "invalid_grant")
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    wait_for(lambda: "start-up check" in daemon.log_text(), 10, 0.05, "the start-up check to fail")
    with pytest.raises(anthropic.APIStatusError) as info:
        ask(claude(daemon))
    assert info.value.status_code == 400  # ccproxy's own credential failure: no client retries it
    message = str(info.value)
    assert "provider 'claude'" in message and "invalid_grant" in message and "left unchanged" in message
    assert fake_provider.requests == []  # nothing, and certainly not the sentinel, went to the provider
    assert token_file.read_bytes() == original
    flow = newest_flow(daemon, 1)
    assert "invalid_grant" in flow["ccproxy"]["error"]
    assert "invalid_grant" in daemon.log_text()


def counter_command(tmp_path: Path, prefix: str) -> str:
    """A command that prints a new credential each run: rotation outside ccproxy."""
    counter = tmp_path / f"{prefix}.n"
    counter.write_text("0")
    code = (
        f"import pathlib; p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1; "
        f"p.write_text(str(n)); print({prefix!r} + '-' + str(n))"
    )
    return f"{sys.executable} -c \"{code}\""


def test_command_source_is_re_resolved_on_401_and_replayed(
    daemon_factory: Factory, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    provider = {"provider": "anthropic", "host": fake_provider.host, "scheme": "http",
                "auth": {"type": "command", "command": counter_command(tmp_path, "cmd-key-secret")}}
    daemon = daemon_factory({"providers": {"rotating": provider}})
    fake_provider.required_token = "cmd-key-secret-2"
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-rotating", max_retries=0)
    assert ask(client) == "Hello from the fake provider."
    assert [r.credential() for r in fake_provider.requests] == ["cmd-key-secret-1", "cmd-key-secret-2"]
    ccp = newest_flow(daemon, 1)["ccproxy"]
    assert (ccp["auth_refreshed"], ccp["auth_replayed"]) == (True, True)
    assert ccp["extra"]["auth"]["renewed"] == "reread"


def test_unchanged_credential_lets_the_401_through(
    daemon_factory: Factory, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    key = tmp_path / "key.txt"
    key.write_text("file-key-secret-old\n")
    provider = {"provider": "anthropic", "host": fake_provider.host, "scheme": "http",
                "auth": {"type": "file", "path": str(key)}}
    daemon = daemon_factory({"providers": {"filed": provider}})
    fake_provider.required_token = "file-key-secret-new"
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-filed", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        ask(client)
    assert len(fake_provider.requests) == 1
    ccp = newest_flow(daemon, 1)["ccproxy"]
    assert (ccp["auth_refreshed"], ccp["auth_replayed"]) == (False, False)
    assert "credential unchanged after re-resolve" in daemon.log_text()
    # the file is read on every resolve: rotating it fixes the next request
    key.write_text("file-key-secret-new\n")
    assert ask(client) == "Hello from the fake provider."


def test_failing_command_is_an_error_naming_the_provider(
    daemon_factory: Factory, fake_provider: FakeProvider
) -> None:
    provider = {"provider": "anthropic", "host": fake_provider.host, "scheme": "http",
                "auth": {"type": "command", "command": "echo vault is locked >&2; exit 7"}}
    daemon = daemon_factory({"providers": {"vault": provider}})
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-vault", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        ask(client)
    assert info.value.status_code == 400  # ccproxy's own credential failure: no client retries it
    assert "provider 'vault'" in str(info.value) and "exited 7: vault is locked" in str(info.value)
    assert fake_provider.requests == []


def test_verbose_mode_strips_redact_thinking(daemon_factory: Factory, fake_provider: FakeProvider) -> None:
    daemon = daemon_factory({"hooks": {"outbound": ["ccproxy.hooks.verbose_mode"]}})
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    client.messages.create(
        model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "oauth-2025-04-20,redact-thinking-2025-02-19,interleaved-thinking-2025-05-14"},
    )
    assert fake_provider.requests[-1].headers["anthropic-beta"] == "oauth-2025-04-20,interleaved-thinking-2025-05-14"


def test_verbose_mode_per_request_override(daemon_factory: Factory, fake_provider: FakeProvider) -> None:
    daemon = daemon_factory()
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    beta = {"anthropic-beta": "redact-thinking-2025-02-19"}
    client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "a"}], extra_headers=beta)
    assert fake_provider.requests[-1].headers["anthropic-beta"] == "redact-thinking-2025-02-19"
    client.messages.create(
        model="m", max_tokens=8, messages=[{"role": "user", "content": "b"}],
        extra_headers={**beta, "x-ccproxy-hooks": "+verbose_mode"},
    )
    assert "anthropic-beta" not in fake_provider.requests[-1].headers


def test_status_shows_whether_each_credential_resolves(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path
) -> None:
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, "oauth-access-live-very-secret", 3600)
    broken = {"provider": "openai", "host": fake_provider.host, "scheme": "http",
              "auth": {"type": "command", "command": "exit 4"}}
    unset = {"provider": "openai", "host": fake_provider.host, "scheme": "http",
             "auth": {"type": "env", "env": "CCPROXY_TEST_UNSET_VAR"}}
    daemon = start(daemon_factory, fake_provider, token_file, endpoint, providers={"broken": broken, "unset": unset})
    out = daemon.cli("status", "--json")
    assert out.returncode == 0, out.stderr
    providers = json.loads(out.stdout)["providers"]
    assert providers["claude"]["auth"] == "oauth" and providers["claude"]["auth_check"] == "ok"
    assert providers["anthropic"]["auth"] == "env" and providers["anthropic"]["auth_check"] == "ok"
    assert providers["broken"]["auth"] == "command"
    assert "provider 'broken'" in providers["broken"]["auth_check"] and "exited 4" in providers["broken"]["auth_check"]
    assert "CCPROXY_TEST_UNSET_VAR is not set" in providers["unset"]["auth_check"]
    text = daemon.cli("status")
    assert text.returncode == 0, text.stderr
    assert "oauth (ok)" in text.stdout and "exited 4" in text.stdout
    for output in (out.stdout, text.stdout):
        assert "oauth-access-live-very-secret" not in output and CLIENT_SECRET not in output


@pytest.mark.parametrize("stream", [False, True])
def test_401_replay_of_a_translated_flow_is_translated_too(
    daemon_factory: Factory, fake_provider: FakeProvider, endpoint: FakeTokenEndpoint, tmp_path: Path, stream: bool
) -> None:
    """An OpenAI client on an Anthropic OAuth provider: the replayed answer goes through the router's translator."""
    token_file = tmp_path / "credentials.json"
    write_tokens(token_file, REVOKED, 3600)
    daemon = start(daemon_factory, fake_provider, token_file, endpoint)
    fake_provider.required_token = access_for(1)
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-claude", max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]
    if stream:
        chunks = client.chat.completions.create(model="claude-test", messages=messages, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        text = client.chat.completions.create(model="claude-test", messages=messages).choices[0].message.content or ""
    assert text == "Hello from the fake provider."
    assert [r.path for r in fake_provider.requests] == ["/v1/messages", "/v1/messages"]
    assert [r.credential() for r in fake_provider.requests] == [REVOKED, access_for(1)]
    ccp = newest_flow(daemon, 1)["ccproxy"]
    assert ccp["transform"]["mode"] == "transform" and ccp["auth_replayed"] is True
