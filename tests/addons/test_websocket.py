"""WebSocket handshakes in the router: routed like any request, refused with 426 where a body would be translated."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketData, WebSocketMessage

from ccproxy.addons.recorder import Recorder
from ccproxy.addons.router import Router
from ccproxy.addons.websocket import WebSocketLog, is_upgrade
from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.store.api import store_path
from ccproxy.store.restore import load_recent, to_http_flow
from tests.addons.test_auth import rejected_flow, run_headers
from tests.addons.test_auth import setup as auth_setup
from tests.addons.test_recorder import recent
from tests.addons.test_router import FAKE, KEYS, router, run
from tests.fakes.provider import FakeProvider

UPGRADE = {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-version": "13",
           "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in KEYS.items():
        monkeypatch.setenv(k, v)


def handshake(path: str = "/v1/responses", *, provider: str | None = None,
              headers: dict[str, str] | None = None) -> http.HTTPFlow:
    """Codex CLI's opening: GET with Upgrade headers and no body."""
    f = tflow.tflow()
    f.request = http.Request.make("GET", f"http://unrouted.ccproxy.invalid{path}", b"",
                                  {"host": "127.0.0.1:4000", **UPGRADE, **(headers or {})})
    meta = get_meta(f)
    meta.source = "reverse"
    if provider:
        meta.provider, meta.auth_injected = provider, True
    return f


def test_is_upgrade_wants_a_get_with_upgrade_websocket() -> None:
    assert is_upgrade(handshake().request)
    assert not is_upgrade(handshake(headers={"upgrade": "h2c"}).request)
    post = handshake()
    post.request.method = "POST"
    assert not is_upgrade(post.request)


def test_same_format_sentinel_route_passes_the_handshake_on() -> None:
    f = run(router(), handshake(provider="responses"))
    assert f.response is None
    assert f.request.url == f"http://{FAKE}/v1/responses" and f.request.headers["upgrade"] == "websocket"
    assert get_meta(f).transform.mode == "route"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rules", "provider", "reason", "dest"),
    [
        (None, "openai", "sentinel", "openai"),  # the sentinel's provider speaks Chat Completions
        ([{"match_path": "^/v1/responses", "action": "transform", "dest_provider": "anthropic"}], "responses",
         "rule[0]", "anthropic"),
    ],
)
def test_a_translating_route_refuses_with_a_json_426(rules: list[dict[str, Any]] | None, provider: str,
                                                     reason: str, dest: str) -> None:
    r: Router = router(rules)
    f = run(r, handshake(provider=provider))
    assert f.response is not None and f.response.status_code == 426
    body = json.loads(f.response.content or b"")
    assert body["type"] == "error" and body["error"]["type"] == "ccproxy_websocket_unsupported"
    meta = get_meta(f)
    assert meta.websocket_refusal == {"refused": 426, "reason": reason, "provider": provider if not rules else dest,
                                       "from_format": "openai_responses", "to_format": dest}
    assert meta.transform is None  # nothing to translate back: the router's response side leaves the 426 alone
    asyncio.run(r.response(f))
    assert f.response.status_code == 426 and json.loads(f.response.content or b"") == body


def test_a_redirect_rule_passes_the_handshake_on_with_the_destination_key() -> None:
    rules = [{"match_path": "^/v1/responses", "action": "redirect", "dest_provider": "responses"}]
    f = run(router(rules), handshake(provider="anthropic", headers={"x-api-key": "real-anthropic"}))
    assert f.response is None and get_meta(f).transform.mode == "redirect"  # type: ignore[union-attr]
    assert f.request.headers["authorization"] == "Bearer real-openai" and "x-api-key" not in f.request.headers


def test_the_log_says_open_and_close_without_payloads(caplog: pytest.LogCaptureFixture) -> None:
    f = handshake(provider="responses")
    f.websocket = WebSocketData(messages=[WebSocketMessage(1, True, b'{"api_key": "secret-in-payload"}'),
                                          WebSocketMessage(1, False, b"{}")],
                                closed_by_client=True, close_code=1000)
    addon = WebSocketLog()
    with taddons.context(), caplog.at_level(logging.INFO, "ccproxy.websocket"):
        addon.websocket_start(f)
        addon.websocket_end(f)
    assert "WebSocket open" in caplog.text and "1 messages sent, 1 received" in caplog.text
    assert "secret-in-payload" not in caplog.text


def test_a_401_handshake_renews_the_credential_but_is_not_replayed(tmp_path: Path,
                                                                   fake_provider: FakeProvider) -> None:
    """A replay could not become the client's socket: the 401 goes on, the client's reconnect gets the new key."""
    addon, _ = auth_setup(tmp_path, fake_provider)
    f = rejected_flow(fake_provider)
    f.request.method, f.request.path, f.request.content = "GET", "/v1/responses", b""
    f.request.headers.update(UPGRADE)
    run_headers(addon, f)
    assert f.response is not None and f.response.status_code == 401
    assert fake_provider.requests == []  # nothing replayed
    meta = get_meta(f)
    assert (meta.auth_refreshed, meta.auth_replayed) == (True, False)
    assert "not replayed" in meta.auth_recovery["error"]
    assert asyncio.run(addon.resolver.resolve("anth")) == "key-new"


CREATE = json.dumps({"type": "response.create", "model": "gpt-x", "input": "hi"}).encode()
DONE = json.dumps({"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 1}}}).encode()


def test_the_recorder_stores_the_socket_at_101_and_again_at_its_end_and_restores_it(tmp_path: Path) -> None:
    f = recent(handshake(provider="responses"))
    f.response = http.Response.make(101, b"", {"upgrade": "websocket", "connection": "Upgrade"})
    f.websocket = WebSocketData()
    config = CCProxyConfig()
    recorder = Recorder(config, tmp_path)
    with taddons.context(recorder):
        recorder.response(f)  # the 101: no messages yet
        f.websocket.messages += [WebSocketMessage(1, True, CREATE, 1.0), WebSocketMessage(1, False, DONE, 1.5),
                                 WebSocketMessage(2, False, b"\x00\x01", 2.0)]
        f.websocket.closed_by_client, f.websocket.close_code, f.websocket.timestamp_end = False, 1011, 3.0
        recorder.websocket_end(f)  # both records may reach the writer in one batch
        recorder.done()
    assert get_meta(f).usage == {"input_tokens": 3, "output_tokens": 1}  # the live flow got the final facts
    path = store_path(config, tmp_path)
    [stored] = load_recent(path, 10)
    assert stored["ccproxy"]["websocket"]["messages"] == 3 and stored["ccproxy"]["websocket"]["close_code"] == 1011
    restored = to_http_flow(stored, path).websocket
    assert restored is not None and restored.close_code == 1011 and restored.closed_by_client is False
    assert [(m.from_client, m.is_text, m.content, m.timestamp) for m in restored.messages] == [
        (True, True, CREATE, 1.0), (False, True, DONE, 1.5), (False, False, b"\x00\x01", 2.0)]
