"""A silent provider: the client gets a JSON 504 (or its stream ends) in bounded time, the flow says why."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

KEY = "sk-ant-oat-ccproxy-anthropic"


def stored(daemon: RunningDaemon, model: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        done = daemon.cli("flows", "list", "--json")
        flows = [f for f in json.loads(done.stdout or "[]") if f.get("ccproxy", {}).get("model") == model]
        return flows[-1] if flows and flows[-1].get("error") else None

    found: dict[str, Any] = wait_for(find, timeout=20, what=f"the stored flow of {model}")
    return found


@pytest.fixture
def quick(daemon_factory: Any, fake_provider: FakeProvider) -> RunningDaemon:
    fake_provider.hang_seconds = 20  # longer than every limit below; ends with the fake
    d: RunningDaemon = daemon_factory(config={"inspector": {"upstream_timeout": 1.5, "stream_idle_timeout": 1.5}})
    return d


def test_no_answer_is_a_json_504_and_the_daemon_keeps_serving(quick: RunningDaemon) -> None:
    client = anthropic.Anthropic(base_url=quick.proxy_url, api_key=KEY, max_retries=0, timeout=30)
    with pytest.raises(anthropic.APIStatusError) as caught:  # an answer from ccproxy, not the SDK's own timeout
        client.messages.create(model="slow-hang", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504
    body = caught.value.response.json()
    assert body["error"]["type"] == "upstream_timeout"
    assert "ccproxy.inspector.upstream_timeout" in body["error"]["message"]

    flow = stored(quick, "slow-hang")
    assert "no response headers within 1.5 s" in flow["error"]["msg"]
    assert flow["ccproxy"]["error"] == flow["error"]["msg"]

    ok = client.messages.create(model="fine", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert ok.content and ok.content[0].type == "text"
    assert "closing the upstream connection" in quick.log_text()


def test_a_stalled_stream_is_ended_and_recorded(quick: RunningDaemon) -> None:
    received = b""
    with httpx.stream(
        "POST", quick.proxy_url + "/v1/messages", headers={"x-api-key": KEY},
        json={"model": "slow-stall", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    ) as res:
        assert res.status_code == 200
        with pytest.raises(httpx.HTTPError) as caught:  # the body ends short: the provider "cut" it
            for chunk in res.iter_raw():
                received += chunk
    assert not isinstance(caught.value, httpx.TimeoutException)  # ended by ccproxy, not by the client
    assert b"message_start" in received and b"message_stop" not in received

    flow = stored(quick, "slow-stall")
    assert "the stream was silent for 1.5 s" in flow["error"]["msg"]
    assert flow["ccproxy"]["streamed"] is True
    assert httpx.get(quick.proxy_url + "/health").status_code == 200


def test_an_sdk_stream_through_a_transform_ends_with_an_error(quick: RunningDaemon) -> None:
    """An OpenAI client whose request is sent to an Anthropic provider: the stall reaches it as an error."""
    import openai

    client = openai.OpenAI(base_url=quick.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0,
                           timeout=30)
    chunks = []
    with pytest.raises(openai.APIError) as caught:
        stream = client.chat.completions.create(
            model="slow-stall", stream=True, messages=[{"role": "user", "content": "hi"}]
        )
        for chunk in stream:
            chunks.append(chunk)
    assert chunks, "the answer started streaming before the stall"
    assert not isinstance(caught.value, openai.APIStatusError)  # mid-stream, not a refused request
    assert not isinstance(caught.value, openai.APITimeoutError)  # ended by ccproxy, not by the client
    flow = stored(quick, "slow-stall")
    assert flow["ccproxy"]["transform"]["mode"] == "transform"
    assert "the stream was silent" in flow["error"]["msg"]


def test_a_body_stalled_after_the_headers_is_a_json_504_and_recorded_so(quick: RunningDaemon) -> None:
    """The provider sends 200 and half its JSON, then nothing: not a 600 s wait ending in silence."""
    client = anthropic.Anthropic(base_url=quick.proxy_url, api_key=KEY, max_retries=0, timeout=60)
    with pytest.raises(anthropic.APIStatusError) as caught:  # ccproxy's answer, not the SDK's own timeout
        client.messages.create(model="body-slowbody", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504
    seen = caught.value.response.json()
    assert seen["error"]["type"] == "upstream_timeout"
    assert "the response body was silent for 1.5 s" in seen["error"]["message"]

    flow = stored(quick, "body-slowbody")
    assert flow["response"]["status_code"] == 504  # what the client got, not the provider's 200
    assert "the response body was silent for 1.5 s (ccproxy.inspector.stream_idle_timeout)" in flow["error"]["msg"]
    assert flow["ccproxy"]["error"] == flow["error"]["msg"]
    assert flow["ccproxy"]["upstream_response"]["status_code"] == 200  # the provider's headers stay on record
    shown = json.loads(quick.cli("flows", "show", flow["id"], "--json").stdout)
    assert json.loads(shown["bodies"]["response"]) == seen
    assert httpx.get(quick.proxy_url + "/health").status_code == 200


def test_a_body_cut_half_way_is_recorded_as_the_502_the_client_got(quick: RunningDaemon) -> None:
    res = httpx.post(
        quick.proxy_url + "/v1/messages", headers={"x-api-key": KEY},
        json={"model": "body-halfbody", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert res.status_code == 502 and res.json()["error"]["type"] == "upstream_unreachable"

    flow = stored(quick, "body-halfbody")
    assert flow["response"]["status_code"] == res.status_code
    assert flow["error"]["msg"] and flow["error"]["msg"] in res.json()["error"]["message"]
    assert flow["ccproxy"]["upstream_response"]["status_code"] == 200
    shown = json.loads(quick.cli("flows", "show", flow["id"], "--json").stdout)
    assert json.loads(shown["bodies"]["response"]) == res.json()


def test_a_client_body_stopped_by_the_idle_timeout_says_so(daemon_factory: Any, fake_provider: FakeProvider) -> None:
    import socket

    daemon: RunningDaemon = daemon_factory(config={"inspector": {"idle_timeout": 1}})
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"x-api-key: " + KEY.encode() + b"\r\ncontent-length: 1000\r\n\r\n{\"model\": \"idle-body\"")
        sock.settimeout(30)  # ccproxy closes the connection after its idle timeout: recv returns
        while sock.recv(65536):
            pass

    def find() -> dict[str, Any] | None:
        flows = json.loads(daemon.cli("flows", "list", "--json").stdout or "[]")
        return next((f for f in flows if f["request"]["path"] == "/v1/messages" and f.get("error")), None)

    flow: dict[str, Any] = wait_for(find, timeout=20, what="the stored flow")
    assert "ccproxy.inspector.idle_timeout" in flow["error"]["msg"], flow["error"]
    assert fake_provider.requests == []
