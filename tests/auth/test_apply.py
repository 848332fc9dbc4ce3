"""`apply_credential`: the one way a credential enters a request (inject_auth, the router, the 401 replay)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.addons.auth import AuthRefresh
from ccproxy.addons.router import Router
from ccproxy.auth.apply import apply_credential, mask_credential, sent_credential, strip_client_keys
from ccproxy.config.model import CCProxyConfig
from ccproxy.daemon.chain import build_services
from ccproxy.flowmeta import get_meta
from ccproxy.hooks.inject_auth import inject_auth
from ccproxy.pipeline.context import HookContext
from tests.fakes.provider import FakeProvider


def request(path: str = "/v1/messages", headers: list[tuple[str, str]] | None = None,
            host: str = "h.test", body: bytes = b"{}") -> http.Request:
    fields = [(k.encode(), v.encode()) for k, v in headers or []]
    return http.Request.make("POST", f"http://{host}{path}", body, http.Headers(fields))


def fields(req: http.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in req.headers.items(multi=True) if k != "content-length"]


def test_the_credential_takes_the_old_keys_place_and_no_other_key_stays() -> None:
    req = request("/v1/x?alt=sse&key=sk-ant-oat-ccproxy-g&b=2", [
        ("accept", "*/*"), ("x-api-key", "sk-ant-oat-ccproxy-a"), ("authorization", "Bearer client"),
        ("x-goog-api-key", "g"), ("user-agent", "sdk"),
    ])
    apply_credential(req, "x-api-key", "real")
    assert fields(req) == [("accept", "*/*"), ("x-api-key", "real"), ("user-agent", "sdk")]
    assert req.path == "/v1/x?alt=sse&b=2"


def test_authorization_gets_the_bearer_form_and_reads_back_without_it() -> None:
    req = request(headers=[("x-api-key", "sk-ant-oat-ccproxy-a")])
    apply_credential(req, "authorization", "tok")
    assert req.headers["authorization"] == "Bearer tok" and "x-api-key" not in req.headers
    assert sent_credential(req.headers, "authorization") == "tok"
    mask_credential(req, "authorization", "[REDACTED]")
    assert req.headers["authorization"] == "Bearer [REDACTED]"


def test_a_query_without_a_key_is_left_byte_for_byte() -> None:
    req = request("/v1/x?q=a%20b&z=%2F")
    strip_client_keys(req)
    assert req.path == "/v1/x?q=a%20b&z=%2F"
    req = request("/v1/x?key=only")
    strip_client_keys(req)
    assert req.path == "/v1/x"


def test_masking_adds_no_header_that_was_not_sent() -> None:
    req = request()
    mask_credential(req, "x-api-key", "[REDACTED]")
    assert "x-api-key" not in req.headers


# The three places a credential enters a request, each leaving the same request behind.

CONFIG = {
    "providers": {
        "anth": {"provider": "anthropic", "host": "127.0.0.1:9", "scheme": "http",
                 "auth": {"type": "env", "env": "T_ANTH"}},
        "other": {"provider": "anthropic", "host": "127.0.0.1:9", "scheme": "http",
                  "auth": {"type": "env", "env": "T_OTHER"}},
    },
}
HEADERS = [("accept", "*/*"), ("x-api-key", "sk-ant-oat-ccproxy-anth"), ("x-goog-api-key", "stray"),
           ("content-type", "application/json")]
EXPECTED = [("accept", "*/*"), ("x-api-key", "real-{}"), ("content-type", "application/json")]


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_ANTH", "real-anth")
    monkeypatch.setenv("T_OTHER", "real-other")


def sentinel_flow() -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = request("/v1/messages?key=sk-ant-oat-ccproxy-anth", HEADERS)
    get_meta(flow).source = "reverse"
    return flow


def test_inject_auth_applies_it(tmp_path: Path) -> None:
    config = CCProxyConfig.model_validate(CONFIG)
    flow = sentinel_flow()
    asyncio.run(inject_auth(HookContext(flow=flow, config=config, services=build_services(config, tmp_path))))
    assert fields(flow.request) == [(k, v.format("anth")) for k, v in EXPECTED]
    assert flow.request.path == "/v1/messages"


def test_the_routers_redirect_applies_it(tmp_path: Path) -> None:
    config = CCProxyConfig.model_validate({**CONFIG, "inspector": {"transforms": [
        {"match_path": "/v1/messages", "action": "redirect", "dest_provider": "other"}]}})
    flow = sentinel_flow()
    get_meta(flow).provider = "anth"
    asyncio.run(Router(config, build_services(config, tmp_path)).request(flow))
    assert get_meta(flow).transform is not None and get_meta(flow).provider == "other"
    assert sent_credential(flow.request.headers, "x-api-key") == "real-other"
    assert {"authorization", "x-goog-api-key"}.isdisjoint(flow.request.headers.keys())
    assert "key=" not in flow.request.path


def test_the_401_replay_applies_it(tmp_path: Path, fake_provider: FakeProvider) -> None:
    (tmp_path / "key.txt").write_text("key-new\n")
    config = CCProxyConfig.model_validate({"providers": {"anth": {
        "provider": "anthropic", "host": fake_provider.host, "scheme": "http",
        "auth": {"type": "file", "path": "key.txt"}}}})
    addon = AuthRefresh(config, build_services(config, tmp_path))
    flow = tflow.tflow(resp=True)
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    flow.request = request("/v1/messages", [("accept", "*/*"), ("x-api-key", "key-old"), ("x-goog-api-key", "stray"),
                                            ("content-type", "application/json")], fake_provider.host, body.encode())
    flow.response = http.Response.make(401, b"{}", {"content-type": "application/json"})
    meta = get_meta(flow)
    meta.provider, meta.auth_injected = "anth", True

    async def main() -> None:
        try:
            await addon.responseheaders(flow)
        finally:
            await addon.done()

    asyncio.run(main())
    sent = fake_provider.requests[-1]
    assert sent.credential() == "key-new"
    assert "x-goog-api-key" not in {k.lower() for k in sent.headers}
