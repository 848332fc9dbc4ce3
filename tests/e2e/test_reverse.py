"""Reverse-proxy capture end to end: real SDKs and curl -> ccproxy -> the fake provider."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.daemon import SECRETS, RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider


def mitmweb_flows(daemon: RunningDaemon) -> list[dict[str, Any]]:
    req = urllib.request.Request(
        daemon.inspector_url + "/flows", headers={"authorization": f"Bearer {daemon.state['web_token']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        flows: list[dict[str, Any]] = json.load(resp)
    return flows


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=30)


def test_anthropic_sdk_json_and_stream(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    msg = client.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "hello"}],
        metadata={"user_id": "user_1_account_2_session_5e55-1011"},
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the fake provider."
    assert msg.usage.input_tokens > 0
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]

    with client.messages.stream(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the fake provider."
    assert final.stop_reason == "end_turn"
    assert fake_provider.requests[-1].json["stream"] is True


def test_anthropic_sdk_tool_call_round_trip(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    tools: list[Any] = [{"name": "get_weather", "description": "weather", "input_schema": {
        "type": "object", "properties": {"location": {"type": "string"}}}}]
    first = client.messages.create(
        model="claude-test", max_tokens=64, tools=tools, messages=[{"role": "user", "content": "weather?"}]
    )
    call = first.content[0]
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"location": "Paris"}
    second = client.messages.create(
        model="claude-test", max_tokens=64, tools=tools,
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [call.model_dump()]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
        ],
    )
    assert second.content[0].type == "text" and "sunny" in second.content[0].text


def test_openai_sdk_json_and_stream(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=shared_daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai")
    out = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "Hello from the fake provider."
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {SECRETS['FAKE_OPENAI_KEY']}"

    chunks = list(client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
    ))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake provider."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_gemini_sdk_goes_to_gemini_provider(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = genai.Client(
        api_key="sk-ant-oat-ccproxy-gemini", http_options=gtypes.HttpOptions(base_url=shared_daemon.proxy_url)
    )
    out = client.models.generate_content(model="gemini-test", contents="hi")
    assert out.text == "Hello from the fake provider."
    seen = fake_provider.requests[-1]
    # google-genai 3.x calls /v1 by default; ccproxy keeps the client's API version
    assert seen.path.startswith("/v1/models/gemini-test:generateContent")
    assert seen.headers["x-goog-api-key"] == SECRETS["FAKE_GEMINI_KEY"]
    streamed = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-test", contents="x"))
    assert streamed == "Hello from the fake provider."


def test_curl_with_query_key_sentinel(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    res = curl(
        "-H", "content-type: application/json",
        f"{shared_daemon.proxy_url}/v1beta/models/gemini-test:generateContent?key=sk-ant-oat-ccproxy-gemini",
        "-d", json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    )
    assert json.loads(res.stdout)["candidates"][0]["content"]["parts"][0]["text"] == "Hello from the fake provider."
    seen = fake_provider.requests[-1]
    assert "key=" not in seen.path
    assert seen.credential() == SECRETS["FAKE_GEMINI_KEY"]


def test_no_sentinel_routes_by_path_and_keeps_client_key(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.proxy_url, api_key="client-own-key")
    client.messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert fake_provider.requests[-1].credential() == "client-own-key"


def test_other_paths_keep_their_own_path(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=shared_daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai")
    models = client.models.list()
    assert [m.id for m in models] == ["fake-model"]
    assert fake_provider.requests[-1].path == "/v1/models"


def test_unroutable_request_gets_501_json(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    res = httpx.get(shared_daemon.proxy_url + "/v1/models", headers={"x-api-key": "client-key"})
    assert res.status_code == 501
    body = res.json()
    assert body["error"]["type"] == "ccproxy_not_routed"
    assert "/v1/models" in body["error"]["message"] and "transforms" in body["error"]["message"]
    assert fake_provider.requests == []


def test_unknown_provider_sentinel_never_leaves(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.proxy_url, api_key="sk-ant-oat-ccproxy-nosuch", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 400
    assert "unknown provider 'nosuch'" in str(err.value.body)
    assert fake_provider.requests == []


def test_missing_credential_is_an_error_not_a_forward(
    daemon_factory: Any, fake_provider: FakeProvider
) -> None:
    d = daemon_factory(env={"FAKE_OPENAI_KEY": ""})
    res = httpx.post(
        d.proxy_url + "/v1/chat/completions",
        headers={"authorization": "Bearer sk-ant-oat-ccproxy-openai"},
        json={"model": "m", "messages": []},
    )
    assert res.status_code == 400  # in the OpenAI shape, for an OpenAI client
    assert "FAKE_OPENAI_KEY is not set" in res.json()["error"]["message"]
    assert fake_provider.requests == []


def test_health_endpoint(shared_daemon: RunningDaemon) -> None:
    body = httpx.get(shared_daemon.proxy_url + "/health").json()
    assert body["status"] == "ok" and body["version"]
    assert body["listeners"]["proxy"] == shared_daemon.proxy_url
    assert body["uptime_s"] >= 0


def test_bad_input_and_faults_keep_the_daemon_serving(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    url = shared_daemon.proxy_url + "/v1/messages"
    key = {"x-api-key": "sk-ant-oat-ccproxy-anthropic", "content-type": "application/json"}
    # malformed JSON: the provider's own 400 comes back
    res = httpx.post(url, headers=key, content=b"{not json")
    assert res.status_code == 400 and res.json()["error"]["type"] == "invalid_request_error"
    # a 10 MB body goes through
    big = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x" * 10_000_000}]}
    res = httpx.post(url, headers=key, json=big, timeout=60)
    assert res.status_code == 200
    assert len(fake_provider.requests[-1].body) > 10_000_000
    # provider 500 is passed through as is
    res = httpx.post(url, headers=key, json={"model": "m-error-500", "max_tokens": 1, "messages": []})
    assert res.status_code == 500 and res.json()["error"]["message"] == "fake provider error 500"
    # provider resets the connection: a JSON 502
    marker = {"x-test-marker": "bad-input-reset"}  # finds this request's flow, not an earlier test's
    res = httpx.post(url, headers={**key, **marker}, json={"model": "m-reset", "max_tokens": 1, "messages": []})
    assert res.status_code == 502
    assert res.json()["error"]["type"] == "upstream_unreachable"
    # still serving
    assert httpx.get(shared_daemon.proxy_url + "/health").status_code == 200

    def reset_flows() -> list[dict[str, Any]]:
        return [f for f in mitmweb_flows(shared_daemon)
                if ["x-test-marker", "bad-input-reset"] in f["request"]["headers"]]

    mine = wait_for(reset_flows, timeout=10, what="the reset flow in mitmweb's view")
    assert len(mine) == 1 and mine[0].get("error"), "the failed flow stays in mitmweb's view, with its error"


def test_provider_down_gives_json_502(daemon_factory: Any) -> None:
    from tests.daemon import free_port

    dead = f"127.0.0.1:{free_port()}"
    d = daemon_factory(config={"providers": {"anthropic": {"host": dead}}})
    res = httpx.post(
        d.proxy_url + "/v1/messages",
        headers={"x-api-key": "sk-ant-oat-ccproxy-anthropic"},
        json={"model": "m", "max_tokens": 1, "messages": []},
    )
    assert res.status_code == 502
    assert "ccproxy could not get an answer from the upstream" in res.json()["error"]["message"]
    assert httpx.get(d.proxy_url + "/health").status_code == 200


def test_every_flow_is_in_mitmweb(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai")
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    httpx.get(daemon.proxy_url + "/not/routable")
    flows = wait_for(lambda: [f for f in mitmweb_flows(daemon) if f["request"]["path"] != "/health"] or None,
                     5, what="flows in mitmweb")
    paths = sorted(f["request"]["path"] for f in flows)
    assert paths == ["/not/routable", "/v1/chat/completions"]
    # the mitmweb REST API is token-protected
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(daemon.inspector_url + "/flows", timeout=5)
    assert err.value.code == 403


def test_egress_strips_internal_headers(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    httpx.post(
        shared_daemon.proxy_url + "/v1/messages",
        headers={"x-api-key": "sk-ant-oat-ccproxy-anthropic", "x-ccproxy-debug": "1", "x-ccproxy-hooks": "+x"},
        json={"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]},
    )
    sent = fake_provider.requests[-1].headers
    assert not [h for h in sent if h.startswith("x-ccproxy-")]


def test_hook_override_header_disabling_inject_auth_blocks_the_sentinel(
    shared_daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    res = httpx.post(
        shared_daemon.proxy_url + "/v1/messages",
        headers={"x-api-key": "sk-ant-oat-ccproxy-anthropic", "x-ccproxy-hooks": "-inject_auth"},
        json={"model": "m", "max_tokens": 1, "messages": []},
    )
    assert res.status_code == 502
    assert res.json()["error"]["type"] == "ccproxy_sentinel_error"
    assert fake_provider.requests == []


def test_configured_hooks_with_params_run_in_dag_order(daemon_factory: Any, fake_provider: FakeProvider) -> None:
    d = daemon_factory(config={"hooks": {
        "inbound": [
            "ccproxy.hooks.inject_auth",
            "tests.pipeline.sample_hooks.boom",
            {"hook": "tests.pipeline.sample_hooks.tag", "params": {"value": "from-config"}},
        ],
        "outbound": ["tests.pipeline.sample_hooks.outbound_mark"],
    }})
    res = httpx.post(
        d.proxy_url + "/v1/messages", headers={"x-api-key": "sk-ant-oat-ccproxy-anthropic"},
        json={"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert res.status_code == 200, "a failing hook is isolated"
    sent = fake_provider.requests[-1].headers
    assert sent["x-sample-tag"] == "from-config"
    assert sent["x-sample-outbound"] == "1"
    assert "boom hook exploded" in d.log_text()


def test_a_large_plain_answer_is_streamed_through_and_recorded_whole(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    fake_provider.answer_size = 3 * 1024 * 1024
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    msg = client.messages.create(model="big", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and len(msg.content[0].text) == 3 * 1024 * 1024

    def stored() -> dict[str, Any] | None:
        flows = json.loads(daemon.cli("flows", "list", "--json").stdout or "[]")
        return next((f for f in flows if f["ccproxy"].get("model") == "big"), None)

    flow = wait_for(stored, timeout=20)
    ccp = flow["ccproxy"]
    assert ccp["extra"]["body_streamed"] is True
    size = flow["response"]["contentLength"]
    assert size > 3 * 1024 * 1024 and ccp["upstream_response"]["content_length"] == size
    assert ccp["changed"]["response_body"] is False
    shown = daemon.cli("flows", "dump", "--jq", 'map(select(.ccproxy.model == "big"))')
    assert shown.returncode == 0 and "lorem ipsum" in shown.stdout
