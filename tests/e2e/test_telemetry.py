"""OTLP export end to end: real SDK calls through the daemon, spans decoded by a real OTLP/HTTP receiver."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.daemon import RunningDaemon, free_port, wait_for
from tests.fakes.otlp import OtlpGrpcReceiver, OtlpReceiver, ReceivedSpan
from tests.fakes.provider import FakeProvider

#: Export every few milliseconds instead of the SDK's 5 s default, so waits stay short.
FAST_BATCHES = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


def telemetry_daemon(factory: Callable[..., RunningDaemon], endpoint: str, **telemetry: Any) -> RunningDaemon:
    otlp = {"endpoint": endpoint, "headers": {"x-team-key": "team-secret-1"}, **telemetry.pop("otlp", {})}
    return factory(config={"telemetry": {"otlp": otlp, **telemetry}}, env=FAST_BATCHES)


def span_with(receiver: OtlpReceiver, key: str, value: Any) -> ReceivedSpan:
    def find() -> ReceivedSpan | None:
        with receiver.lock:
            hits = [s for s in receiver.spans if s.attributes.get(key) == value]
        return hits[-1] if hits else None

    found: ReceivedSpan = wait_for(find, 30, 0.05, f"a span with {key}={value!r}")
    return found


def test_anthropic_call_becomes_a_genai_span(
    daemon_factory: Callable[..., RunningDaemon], receiver: OtlpReceiver, fake_provider: FakeProvider
) -> None:
    daemon = telemetry_daemon(daemon_factory, receiver.url)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    msg = client.messages.create(
        model="claude-otel", max_tokens=32, messages=[{"role": "user", "content": "secret prompt words"}]
    )
    span = span_with(receiver, "gen_ai.response.id", msg.id)
    a = span.attributes
    assert span.name == "chat claude-otel"
    assert span.kind == 3  # SPAN_KIND_CLIENT
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.system"] == a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "claude-otel"
    assert a["gen_ai.usage.input_tokens"] == msg.usage.input_tokens
    assert a["gen_ai.usage.output_tokens"] == msg.usage.output_tokens
    assert a["gen_ai.usage.cache_read.input_tokens"] == 3
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == fake_provider.port
    assert a["http.response.status_code"] == 200 and "error.type" not in a
    assert a["ccproxy.source"] == "reverse" and a["ccproxy.provider"] == "anthropic"
    assert a["ccproxy.route.action"] == "route" and a["ccproxy.ttfb_ms"] >= 0
    assert a["ccproxy.conversation_id"]
    assert span.resource["service.name"] == "ccproxy"
    assert span.end_ns >= span.start_ns > 0
    # No content unless asked for, and the exporter's headers arrive (but never in ccproxy's log).
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    assert "secret prompt words" not in json.dumps(a)
    assert receiver.headers[-1]["x-team-key"] == "team-secret-1"
    assert "team-secret-1" not in daemon.log_text()


def test_streamed_translated_call_and_an_error(
    daemon_factory: Callable[..., RunningDaemon], receiver: OtlpReceiver, fake_provider: FakeProvider
) -> None:
    daemon = telemetry_daemon(daemon_factory, receiver.url)
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic")
    stream = client.chat.completions.create(
        model="claude-stream", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    span = span_with(receiver, "gen_ai.request.model", "claude-stream")
    a = span.attributes
    assert a["gen_ai.system"] == "anthropic" and a["ccproxy.route.action"] == "transform"
    assert a["ccproxy.streamed"] is True and a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.output_tokens"] > 0
    fake_provider.required_token = "something-else"  # the fake answers 401 to the real key
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0).messages.create(
            model="claude-denied", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    failed = span_with(receiver, "gen_ai.request.model", "claude-denied")
    assert failed.attributes["error.type"] == "401" and failed.status_code == 2  # STATUS_CODE_ERROR


def test_content_only_with_capture_content(
    daemon_factory: Callable[..., RunningDaemon], receiver: OtlpReceiver, fake_provider: FakeProvider
) -> None:
    daemon = telemetry_daemon(daemon_factory, receiver.url, capture_content=True)
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    msg = client.messages.create(
        model="claude-content", max_tokens=32, messages=[{"role": "user", "content": "the captured prompt"}]
    )
    a = span_with(receiver, "gen_ai.response.id", msg.id).attributes
    assert json.loads(a["gen_ai.input.messages"])["messages"][0]["content"] == "the captured prompt"
    output = json.loads(a["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == msg.content[0].text  # type: ignore[union-attr]


def test_a_down_collector_costs_only_a_counted_warning(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider
) -> None:
    daemon = telemetry_daemon(daemon_factory, f"http://127.0.0.1:{free_port()}", otlp={"timeout": 1})
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    for i in range(3):
        msg = client.messages.create(model=f"m{i}", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        assert msg.content
    line = wait_for(
        lambda: next((ln for ln in daemon.log_text().splitlines() if "OTLP export to" in ln and "failing" in ln), None),
        60, 0.1, "the export failure warning",
    )  # fmt: skip
    assert "WARNING" in line and "not exported" in line
    assert "team-secret-1" not in daemon.log_text()
    assert len(daemon.cli("flows", "list", "--json").stdout) > 2  # flows are recorded as ever


def test_grpc_protocol(daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider) -> None:
    receiver = OtlpGrpcReceiver().start()
    try:
        daemon = telemetry_daemon(daemon_factory, receiver.url, otlp={"protocol": "grpc", "headers": {"X-Team-Key": "g1"}})
        client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
        msg = client.messages.create(model="claude-grpc", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        span = span_with(receiver, "gen_ai.response.id", msg.id)
        assert span.name == "chat claude-grpc" and span.attributes["gen_ai.usage.output_tokens"] > 0
        assert receiver.headers[-1]["x-team-key"] == "g1"
    finally:
        receiver.stop()


def test_the_writers_span_is_priced_by_the_config_and_carries_the_providers_quota(
    daemon_factory: Callable[..., RunningDaemon], receiver: OtlpReceiver, fake_provider: FakeProvider
) -> None:
    # Spans are built in the flow writer process: `prices:` and the answer's headers must reach it.
    fake_provider.quota_utilization, fake_provider.quota_step = 0.5, 0.0
    daemon = daemon_factory(
        config={"telemetry": {"otlp": {"endpoint": receiver.url}},
                "prices": {"claude-otel-*": {"input_mtok": 1_000_000, "output_mtok": 0}}},
        env=FAST_BATCHES,
    )
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    msg = client.messages.create(model="claude-otel-priced", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    a = span_with(receiver, "gen_ai.response.id", msg.id).attributes
    u = msg.usage
    assert a["ccproxy.cost.usd"] == pytest.approx(
        u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    )
    assert a["ccproxy.quota.kind"] == "anthropic-unified" and a["ccproxy.quota.status"] == "allowed"
    assert a["ccproxy.quota.5h.utilization"] == 50.0 and a["ccproxy.quota.5h.reset"] == fake_provider.quota_reset
