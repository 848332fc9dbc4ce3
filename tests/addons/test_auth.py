from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.addons.auth import AuthRefresh
from ccproxy.addons.replayed import ReplayBody, drain
from ccproxy.auth.apply import sent_credential
from ccproxy.config.model import CCProxyConfig
from ccproxy.daemon.chain import build_services
from ccproxy.flowmeta import get_meta
from tests.fakes.provider import FakeProvider


def setup(tmp_path: Path, fake: FakeProvider, key: str = "key-new") -> tuple[AuthRefresh, CCProxyConfig]:
    (tmp_path / "key.txt").write_text(key + "\n")
    config = CCProxyConfig.model_validate({
        "providers": {
            "anth": {
                "provider": "anthropic", "host": fake.host, "scheme": "http",
                "auth": {"type": "file", "path": "key.txt"},
            }
        }
    })
    return AuthRefresh(config, build_services(config, tmp_path)), config


def rejected_flow(fake: FakeProvider, stream: bool = False, status: int = 401) -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    req = flow.request
    req.scheme, req.host, req.port, req.path, req.method = "http", "127.0.0.1", fake.port, "/v1/messages", "POST"
    req.headers.clear()
    req.headers["host"] = fake.host
    req.headers["x-api-key"] = "key-old"
    req.headers["content-type"] = "application/json"
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    req.content = json.dumps(body).encode()
    err = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    flow.response = http.Response.make(status, json.dumps(err), {"content-type": "application/json"})
    meta = get_meta(flow)
    meta.provider, meta.auth_injected = "anth", True
    return flow


def run_headers(addon: AuthRefresh, flow: http.HTTPFlow) -> None:
    async def main() -> None:
        try:
            await addon.responseheaders(flow)
        finally:
            await addon.done()

    asyncio.run(main())


def test_401_with_a_renewed_credential_is_replayed_once(tmp_path: Path, fake_provider: FakeProvider) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    flow = rejected_flow(fake_provider)
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == 200
    assert fake_provider.requests[-1].credential() == "key-new"
    # mitmproxy would now consume the 401's body into the response; the addon puts the replay's back
    flow.response.content = b'{"type":"error"}'
    addon.response(flow)
    body = json.loads(flow.response.content or b"")
    assert body["content"][0]["text"] == "Hello from the fake provider."
    assert flow.response.headers["content-length"] == str(len(flow.response.raw_content or b""))
    meta = get_meta(flow)
    assert (meta.auth_refreshed, meta.auth_replayed) == (True, True)
    assert meta.auth_recovery == {"status": 401, "renewed": "reread", "replay_status": 200}
    assert flow.request.headers["x-api-key"] == "[REDACTED]"


def test_unchanged_credential_passes_the_401_through(
    tmp_path: Path, fake_provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    addon, _ = setup(tmp_path, fake_provider, key="key-old")
    flow = rejected_flow(fake_provider)
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == 401
    assert fake_provider.requests == []
    meta = get_meta(flow)
    assert (meta.auth_refreshed, meta.auth_replayed) == (False, False)
    assert "credential unchanged after re-resolve" in caplog.text
    assert "key-old" not in caplog.text


def test_failing_re_resolve_is_recorded_on_the_flow(tmp_path: Path, fake_provider: FakeProvider) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    (tmp_path / "key.txt").unlink()
    flow = rejected_flow(fake_provider)
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == 401
    assert "provider 'anth': cannot read credential file" in (get_meta(flow).error or "")


@pytest.mark.parametrize("status", [200, 403, 500])
def test_other_answers_are_left_alone_but_the_credential_is_masked(
    tmp_path: Path, fake_provider: FakeProvider, status: int
) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    flow = rejected_flow(fake_provider, status=status)
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == status
    assert fake_provider.requests == []
    assert flow.request.headers["x-api-key"] == "[REDACTED]"


def test_client_supplied_keys_are_neither_replayed_nor_masked(tmp_path: Path, fake_provider: FakeProvider) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    flow = rejected_flow(fake_provider)
    get_meta(flow).auth_injected = False
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == 401
    assert flow.request.headers["x-api-key"] == "key-old"


def test_replayed_stream_goes_out_through_the_tap(tmp_path: Path, fake_provider: FakeProvider) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    flow = rejected_flow(fake_provider, stream=True)
    run_headers(addon, flow)
    response = flow.response
    assert response is not None and response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    stream = response.stream
    assert isinstance(stream, ReplayBody)
    assert stream(b'{"type":"error"}') == []  # the 401's own bytes never reach the client
    out = stream(b"")
    assert len(out) == 1 and out[0].startswith(b"event: message_start")
    meta = get_meta(flow)
    assert bytes(meta.upstream_raw) == out[0]
    assert [e.event for e in meta.client_events][-1] == "message_stop"
    addon.response(flow)  # nothing pending any more: the streamed body is left as sent
    assert response.raw_content is None


def test_streamed_replay_after_an_empty_401_body_is_delivered_in_response(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    flow = rejected_flow(fake_provider, stream=True)
    run_headers(addon, flow)
    assert flow.response is not None
    flow.response.content = b""  # mitmproxy consumed an empty 401 body instead of streaming it
    addon.response(flow)
    assert (flow.response.raw_content or b"").startswith(b"event: message_start")
    assert [e.event for e in get_meta(flow).client_events][-1] == "message_stop"


def test_helpers() -> None:
    assert sent_credential({"authorization": "Bearer abc"}, "authorization") == "abc"
    assert sent_credential({"x-api-key": "abc"}, "x-api-key") == "abc"
    assert sent_credential({}, "x-api-key") is None
    assert drain(lambda chunk: [chunk] if chunk else [], b"body") == b"body"


def test_a_replay_that_is_refused_too_reaches_the_client_once(tmp_path: Path, fake_provider: FakeProvider) -> None:
    addon, _ = setup(tmp_path, fake_provider)
    fake_provider.required_token = "neither-of-them"
    flow = rejected_flow(fake_provider)
    run_headers(addon, flow)
    assert flow.response is not None and flow.response.status_code == 401
    assert [r.credential() for r in fake_provider.requests] == ["key-new"]
    meta = get_meta(flow)
    assert meta.auth_replayed and meta.auth_recovery["replay_status"] == 401
    run_headers(addon, flow)  # a second 401 event on the same flow never replays again
    assert len(fake_provider.requests) == 1
