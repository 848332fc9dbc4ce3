from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccproxy.auth.oauth import OAuthSource
from ccproxy.auth.resolver import CredentialResolver
from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import OAuthAuth
from ccproxy.errors import AuthError
from tests.daemon import wait_for
from tests.fakes.oauth import FakeTokenEndpoint, access_for, refresh_for


@pytest.fixture
def endpoint() -> Iterator[FakeTokenEndpoint]:
    fake = FakeTokenEndpoint().start()
    yield fake
    fake.stop()


def claude_file(path: Path, access: str, expires_at: float, refresh: str = refresh_for(0)) -> dict[str, Any]:
    doc = {
        "claudeAiOauth": {
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": int(expires_at * 1000),
            "scopes": ["user:inference"],
            "subscriptionType": "pro",
        },
        "otherTool": {"setting": True},
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def oauth(path: Path, token_url: str | None, **extra: Any) -> OAuthAuth:
    return OAuthAuth.model_validate({
        "type": "oauth",
        "file_path": str(path),
        "access_path": "claudeAiOauth.accessToken",
        "refresh_path": "claudeAiOauth.refreshToken",
        "expiry_path": "claudeAiOauth.expiresAt",
        "token_url": token_url,
        "client_id": "client-123",
        **extra,
    })


def source(path: Path, endpoint: FakeTokenEndpoint | None, **extra: Any) -> OAuthSource:
    return OAuthSource("claude", oauth(path, endpoint.url if endpoint else None, **extra), path.parent)


def test_fresh_token_is_read_without_a_refresh(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-current", time.time() + 3600)
    assert asyncio.run(source(path, endpoint).token()) == "at-current"
    assert endpoint.calls == []


def test_token_near_expiry_is_refreshed_and_written_back(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    before = claude_file(path, "at-old", time.time() + 30)
    path.chmod(0o644)
    src = source(path, endpoint, client_secret="shh-client-secret", scope="user:inference")
    assert asyncio.run(src.token()) == access_for(1)
    assert len(endpoint.calls) == 1
    call = endpoint.calls[0]
    assert "x-www-form-urlencoded" in call.content_type
    assert call.fields == {
        "grant_type": "refresh_token",
        "refresh_token": refresh_for(0),
        "client_id": "client-123",
        "client_secret": "shh-client-secret",
        "scope": "user:inference",
    }
    after = json.loads(path.read_text())
    oauth_doc = after["claudeAiOauth"]
    assert oauth_doc["accessToken"] == access_for(1)
    assert oauth_doc["refreshToken"] == refresh_for(1)
    # milliseconds stay milliseconds, one hour from now
    assert abs(oauth_doc["expiresAt"] / 1000 - (time.time() + 3600)) < 60
    assert oauth_doc["scopes"] == before["claudeAiOauth"]["scopes"]
    assert oauth_doc["subscriptionType"] == "pro"
    assert after["otherTool"] == {"setting": True}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("{\n  ")
    # the new token is now fresh: no second refresh
    assert asyncio.run(src.token()) == access_for(1)
    assert len(endpoint.calls) == 1


def test_json_token_body(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 5)
    asyncio.run(source(path, endpoint, token_body="json").token())
    assert "json" in endpoint.calls[0].content_type
    assert endpoint.calls[0].fields["refresh_token"] == refresh_for(0)


def test_seconds_expiry_and_top_level_paths(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"access_token": "old", "refresh_token": refresh_for(0), "expires_at": 100}))
    src = OAuthSource("g", OAuthAuth(type="oauth", file_path="token.json", token_url=endpoint.url), tmp_path)
    assert asyncio.run(src.token()) == access_for(1)
    doc = json.loads(path.read_text())
    assert abs(doc["expires_at"] - (time.time() + 3600)) < 60
    assert "\n" not in path.read_text()  # compact stays compact


def test_another_tools_refresh_is_used_on_the_next_request(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-one", time.time() + 3600)
    src = source(path, endpoint)
    assert asyncio.run(src.token()) == "at-one"
    claude_file(path, "at-two-by-other-tool", time.time() + 3600)
    assert asyncio.run(src.token()) == "at-two-by-other-tool"
    assert endpoint.calls == []


def test_rejected_token_is_refreshed_even_if_not_expired(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-revoked", time.time() + 3600)
    renewal = asyncio.run(source(path, endpoint).renew("at-revoked"))
    assert (renewal.token, renewal.how) == (access_for(1), "refreshed")


def test_rejected_token_already_replaced_in_the_file_is_not_refreshed(
    tmp_path: Path, endpoint: FakeTokenEndpoint
) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-newer", time.time() + 3600)
    renewal = asyncio.run(source(path, endpoint).renew("at-older"))
    assert (renewal.token, renewal.how) == ("at-newer", "reread")
    assert endpoint.calls == []


def test_many_waiters_share_one_refresh(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    endpoint.hold = threading.Event()
    src = source(path, endpoint)

    async def main() -> tuple[list[str], list[str]]:
        expiry = [asyncio.create_task(src.token()) for _ in range(15)]
        rejected = [asyncio.create_task(src.renew("at-old")) for _ in range(15)]
        await asyncio.to_thread(wait_for, endpoint.arrived.is_set, 10, 0.01, "the first refresh")
        endpoint.hold.set()  # type: ignore[union-attr]
        return await asyncio.gather(*expiry), [r.token for r in await asyncio.gather(*rejected)]

    by_expiry, by_401 = asyncio.run(main())
    assert len(endpoint.calls) == 1
    assert set(by_expiry) == set(by_401) == {access_for(1)}


def test_failing_refresh_leaves_the_file_untouched_and_fails_every_waiter_once(
    tmp_path: Path, endpoint: FakeTokenEndpoint
) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    original = path.read_bytes()
    endpoint.fail = (400, "invalid_grant")
    endpoint.hold = threading.Event()
    src = source(path, endpoint)

    async def main() -> list[BaseException | str]:
        tasks = [asyncio.create_task(src.token()) for _ in range(8)]
        await asyncio.to_thread(wait_for, endpoint.arrived.is_set, 10, 0.01, "the refresh")
        endpoint.hold.set()  # type: ignore[union-attr]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert len(endpoint.calls) == 1
    assert all(isinstance(r, AuthError) for r in results)
    message = str(results[0])
    assert "provider 'claude'" in message and "invalid_grant" in message and "HTTP 400" in message
    assert "left unchanged" in message and str(path) in message
    assert refresh_for(0) not in message and "at-old" not in message
    assert path.read_bytes() == original
    # a later request tries again (no permanent failure state)
    endpoint.fail = None
    endpoint.hold = None
    assert asyncio.run(src.token()) == access_for(1)


def test_failed_refresh_falls_back_to_a_token_another_tool_wrote_meanwhile(
    tmp_path: Path, endpoint: FakeTokenEndpoint
) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    endpoint.fail = (400, "invalid_grant")
    endpoint.hold = threading.Event()
    src = source(path, endpoint)

    async def main() -> str:
        task = asyncio.create_task(src.token())
        await asyncio.to_thread(wait_for, endpoint.arrived.is_set, 10, 0.01, "the refresh")
        claude_file(path, "at-from-other-tool", time.time() + 3600, refresh="rt-other")
        endpoint.hold.set()  # type: ignore[union-attr]
        return await task

    assert asyncio.run(main()) == "at-from-other-tool"


def test_unreachable_endpoint_is_an_auth_error(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    src = OAuthSource("claude", oauth(path, "http://127.0.0.1:9/oauth/token"), tmp_path)
    with pytest.raises(AuthError, match=r"provider 'claude': token refresh at http://127\.0\.0\.1:9/oauth/token failed"):
        asyncio.run(src.token())


def test_without_token_url_a_valid_token_is_used_and_an_expired_one_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-soon", time.time() + 30)
    src = source(path, None)
    assert asyncio.run(src.token()) == "at-soon"  # within the margin but still valid
    claude_file(path, "at-gone", time.time() - 1)
    with pytest.raises(AuthError, match="expired and no token_url is configured"):
        asyncio.run(src.token())


def test_missing_pieces_name_the_config_key(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    with pytest.raises(AuthError, match=r"provider 'claude': OAuth token file: cannot read .*file_path"):
        asyncio.run(source(path, endpoint).token())
    path.write_text(json.dumps({"claudeAiOauth": {"accessToken": "a", "expiresAt": 1}}))
    with pytest.raises(AuthError, match=r"no refresh token at `claudeAiOauth\.refreshToken`"):
        asyncio.run(source(path, endpoint).token())


def test_a_grant_without_lifetime_is_not_refreshed_again(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    endpoint.expires_in = None
    src = source(path, endpoint)
    assert asyncio.run(src.token()) == access_for(1)
    assert asyncio.run(src.token()) == access_for(1)
    assert len(endpoint.calls) == 1


def test_refresh_racing_another_writer_never_corrupts_the_file(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    """Another tool rewrites a sibling (atomically, as it should) while ccproxy refreshes repeatedly."""
    path = tmp_path / "creds.json"
    claude_file(path, "at-0", time.time() + 3600)
    stop = threading.Event()
    seen_bad: list[str] = []
    writes = [0]

    def other_writer() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and writes[0] < 5000 and time.monotonic() < deadline:
            doc = json.loads(path.read_text())
            doc["otherTool"] = {"setting": True, "counter": writes[0]}
            tmp = path.with_name(f".other-{writes[0]}")
            tmp.write_text(json.dumps(doc, indent=2))
            os.replace(tmp, path)
            writes[0] += 1

    def reader() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                doc = json.loads(path.read_text())
            except ValueError as exc:
                seen_bad.append(str(exc))
                continue
            if doc["claudeAiOauth"].get("scopes") != ["user:inference"] or "otherTool" not in doc:
                seen_bad.append(json.dumps(doc))

    threads = [threading.Thread(target=other_writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    src = source(path, endpoint)
    try:
        wait_for(lambda: writes[0] > 20, 10, 0.005, "the other writer to get going")
        tokens = [asyncio.run(src.renew(None)).token for _ in range(10)]
    finally:
        stop.set()
        for t in threads:
            t.join(25)
    assert seen_bad == []
    assert len(endpoint.calls) >= 10
    assert tokens[-1] == access_for(endpoint.issued)
    final = json.loads(path.read_text())
    assert final["claudeAiOauth"]["accessToken"] in {access_for(n) for n in range(1, endpoint.issued + 1)}
    assert final["claudeAiOauth"]["scopes"] == ["user:inference"]
    assert final["otherTool"]["setting"] is True


def test_resolver_routes_oauth_and_renews_other_sources(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    creds = tmp_path / "creds.json"
    claude_file(creds, "at-live", time.time() + 3600)
    key = tmp_path / "key.txt"
    key.write_text("key-one\n")
    config = CCProxyConfig.model_validate({
        "providers": {
            "claude": {"host": "a.test", "auth": oauth(creds, endpoint.url).model_dump()},
            "filed": {"host": "b.test", "auth": {"type": "file", "path": "key.txt"}},
        }
    })
    resolver = CredentialResolver(config, tmp_path)
    assert asyncio.run(resolver.resolve("claude")) == "at-live"
    assert resolver.oauth("claude") is resolver.oauth("claude")  # one source (one lock) per provider
    assert asyncio.run(resolver.resolve("claude", force_refresh=True)) == access_for(1)
    assert asyncio.run(resolver.renew("filed", "key-one")).how == "unchanged"
    key.write_text("key-two\n")
    renewal = asyncio.run(resolver.renew("filed", "key-one"))
    assert (renewal.token, renewal.how) == ("key-two", "reread")
    assert asyncio.run(resolver.check_all()) == {"claude": "ok", "filed": "ok"}


def test_lost_update_by_another_writer_falls_back_to_the_refresh_token_ccproxy_wrote(
    tmp_path: Path, endpoint: FakeTokenEndpoint
) -> None:
    path = tmp_path / "creds.json"
    claude_file(path, "at-old", time.time() - 10)
    src = source(path, endpoint)
    assert asyncio.run(src.token()) == access_for(1)
    # a tool that read the file before our write-back saves its stale view over it
    claude_file(path, "at-old", time.time() - 10, refresh=refresh_for(0))
    assert asyncio.run(src.token()) == access_for(2)
    assert [c.fields["refresh_token"] for c in endpoint.calls] == [refresh_for(0), refresh_for(0), refresh_for(1)]
    assert json.loads(path.read_text())["claudeAiOauth"]["refreshToken"] == refresh_for(2)


def test_providers_sharing_a_token_file_share_one_refresh(tmp_path: Path, endpoint: FakeTokenEndpoint) -> None:
    creds = tmp_path / "creds.json"
    claude_file(creds, "at-old", time.time() - 10)
    auth = oauth(creds, endpoint.url).model_dump()
    config = CCProxyConfig.model_validate({
        "providers": {"a": {"host": "a.test", "auth": auth}, "b": {"host": "b.test", "auth": auth}}
    })
    resolver = CredentialResolver(config, tmp_path)

    async def main() -> list[str]:
        return list(await asyncio.gather(resolver.resolve("a"), resolver.resolve("b"), resolver.resolve("a")))

    assert asyncio.run(main()) == [access_for(1)] * 3
    assert len(endpoint.calls) == 1
