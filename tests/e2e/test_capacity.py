"""Capacity fallback through the real SDKs: the fake answers 429/529/503 for the first model.

The `capacity_fallback` hook retries the same model once, then `gemini/gemini-2.5-flash`
(the same provider for a Gemini client, a translated request for the others). The client sees only
the final answer, JSON or streamed; every attempt is on the flow and one log line each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.daemon import RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import FakeProvider

TEXT = "Hello from the fake provider."
FALLBACK = "gemini/gemini-2.5-flash"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    params = {"fallback_models": [FALLBACK], "sticky_retry_attempts": 1, "sticky_retry_max_delay_seconds": 10,
              "terminal_delay_threshold_seconds": 300, "total_retry_budget_seconds": 30}
    config = {"hooks": {"outbound": ["ccproxy.hooks.gemini_cli", "ccproxy.hooks.inject_mcp_notifications",
                                     {"hook": "ccproxy.hooks.capacity_fallback", "params": params}]}}
    d = make_daemon(tmp_path_factory.mktemp("capacity"), _fake_session.host, config).start()
    yield d
    d.stop()


def last_flow(daemon: RunningDaemon, previous: int) -> dict[str, Any]:
    def newest() -> dict[str, Any] | None:
        res = daemon.cli("flows", "list", "--json")
        docs = json.loads(res.stdout) if res.returncode == 0 else []
        return docs[-1] if len(docs) > previous else None
    doc: dict[str, Any] = wait_for(newest, timeout=20, what="the flow stored")
    return doc


def stored(daemon: RunningDaemon) -> int:
    res = daemon.cli("flows", "list", "--json")
    return len(json.loads(res.stdout)) if res.returncode == 0 else 0


def gemini_client(daemon: RunningDaemon) -> genai.Client:
    options = gtypes.HttpOptions(base_url=daemon.proxy_url, retry_options=gtypes.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="sk-ant-oat-ccproxy-gemini", http_options=options)


def chain(doc: dict[str, Any]) -> list[tuple[str, str, int]]:
    attempts = doc["ccproxy"]["extra"]["capacity"]["attempts"]
    return [(a["provider"], a["model"], a["status"]) for a in attempts]


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_capacity_retries_then_falls_back_to_another_model(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    fake_provider.reset()
    fake_provider.capacity_delay = 0.01
    before = stored(daemon)
    client = gemini_client(daemon)
    if stream:
        text = "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-pro-capacity",
                                                                                  contents="hi"))
    else:
        text = client.models.generate_content(model="gemini-2.5-pro-capacity", contents="hi").text or ""
    assert text == TEXT
    paths = [r.path.split("?")[0].split("/models/")[1] for r in fake_provider.requests]
    method = "streamGenerateContent" if stream else "generateContent"
    assert paths == [f"gemini-2.5-pro-capacity:{method}"] * 2 + [f"gemini-2.5-flash:{method}"]
    assert all(r.headers["x-goog-api-key"] == "fake-gemini-real-secret-0003" for r in fake_provider.requests)
    doc = last_flow(daemon, before)
    assert chain(doc) == [("gemini", "gemini-2.5-pro-capacity", 429)] * 2 + [("gemini", "gemini-2.5-flash", 200)]
    capacity = doc["ccproxy"]["extra"]["capacity"]
    assert capacity["answered_by"] == FALLBACK and capacity["attempts"][0]["reason"] == "429"
    assert capacity["attempts"][1]["reason"] == "MODEL_CAPACITY_EXHAUSTED" and capacity["attempts"][1]["retry_delay"] == 0.01
    assert doc["ccproxy"]["model"] == "gemini-2.5-flash" and doc["response"]["status_code"] == 200
    assert doc["ccproxy"]["usage"]["output_tokens"] > 0
    log = daemon.log_text()
    assert log.count(f"flow {doc['id'][:8]}: capacity fallback: attempt") == 3
    shown = daemon.cli("flows", "show", doc["id"])
    assert "capacity attempt 2: gemini/gemini-2.5-pro-capacity -> 429 MODEL_CAPACITY_EXHAUSTED" in shown.stdout
    assert f"capacity: answered by {FALLBACK}" in shown.stdout


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_overloaded_falls_back_across_formats(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    fake_provider.reset()
    before = stored(daemon)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]
    if stream:
        with client.messages.stream(model="claude-capacity", max_tokens=64, messages=messages) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        assert final.stop_reason == "end_turn"
    else:
        out = client.messages.create(model="claude-capacity", max_tokens=64, messages=messages)
        text = "".join(b.text for b in out.content if b.type == "text")
    assert text == TEXT
    seen = fake_provider.requests
    assert [r.path.split("?")[0] for r in seen][:2] == ["/v1/messages"] * 2
    assert "/models/gemini-2.5-flash:" in seen[2].path and "x-api-key" not in seen[2].headers
    assert seen[2].json["contents"][0]["parts"][0]["text"] == "hi"
    doc = last_flow(daemon, before)
    assert chain(doc) == [("anthropic", "claude-capacity", 529)] * 2 + [("gemini", "gemini-2.5-flash", 200)]
    assert doc["ccproxy"]["transform"]["to_format"] == "gemini" and doc["ccproxy"]["provider"] == "gemini"


def test_openai_overloaded_stream_falls_back(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.reset()
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    chunks = list(client.chat.completions.create(model="gpt-capacity", messages=[{"role": "user", "content": "hi"}],
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert fake_provider.requests[-1].path.split("?")[0].endswith("/models/gemini-2.5-flash:streamGenerateContent")


def test_a_recovering_model_is_kept(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.reset()
    before = stored(daemon)
    client = gemini_client(daemon)
    out = client.models.generate_content(model="gemini-2.5-pro-flaky", contents="hi")
    assert out.text == TEXT
    doc = last_flow(daemon, before)
    assert chain(doc) == [("gemini", "gemini-2.5-pro-flaky", 429), ("gemini", "gemini-2.5-pro-flaky", 200)]
    assert doc["ccproxy"]["extra"]["capacity"]["answered_by"] == "gemini/gemini-2.5-pro-flaky"


def test_delays_decide_skip_and_stop(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.reset()
    fake_provider.capacity_delay = 20  # above sticky_retry_max_delay_seconds: no retry of the same model
    before = stored(daemon)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    out = client.messages.create(model="claude-capacity", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert out.content[0].type == "text" and out.content[0].text == TEXT
    assert chain(last_flow(daemon, before)) == [("anthropic", "claude-capacity", 529), ("gemini", "gemini-2.5-flash", 200)]

    fake_provider.reset()
    fake_provider.capacity_delay = 400  # above terminal_delay_threshold_seconds: a sustained outage
    before = stored(daemon)
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="claude-capacity", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 529 and len(fake_provider.requests) == 1
    capacity = last_flow(daemon, before)["ccproxy"]["extra"]["capacity"]
    assert len(capacity["attempts"]) == 1 and "terminal_delay_threshold_seconds" in capacity["stopped"]
