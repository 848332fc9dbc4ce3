"""A recorded session as the upstream: record a Claude-Code-like script through `ccproxy run`, export it,
and replay it offline on another daemon (no provider reachable) with the same script and the real SDKs."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from ccproxy.flows.recording import read_recording
from tests.daemon import RunningDaemon
from tests.fakes.provider import FakeProvider

SCRIPT = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "agent_script.py"


def turns(result: Any) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def recorded_config(recording: Path, **extra: Any) -> dict[str, Any]:
    entry = {"provider": "recorded", "from": str(recording), **extra}
    return {"providers": {"anthropic": entry, "openai": entry}}


@pytest.fixture
def recording(daemon_factory: Callable[..., RunningDaemon], tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    live = daemon_factory(name="live")
    seen = turns(live.cli("run", "--", sys.executable, str(SCRIPT)))
    path = tmp_path / "session.recording.json"
    out = live.cli("flows", "export", "--recording", str(path))
    assert out.returncode == 0 and "5 flow(s), redacted" in out.stdout, out.stderr
    live.stop()
    return path, seen


def test_a_recorded_session_replays_offline_through_ccproxy_run(
        recording: tuple[Path, list[dict[str, Any]]], daemon_factory: Callable[..., RunningDaemon],
        fake_provider: FakeProvider) -> None:
    path, seen = recording
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for flow in read_recording(path):  # the real keys never reach a recording
        assert "sk-fake" not in json.dumps(flow.doc) and b"sk-fake" not in b"".join(flow.parts.values())
    fake_provider.reset()
    offline = daemon_factory(config=recorded_config(path, fast=True), name="offline")
    replayed = turns(offline.cli("run", "--", sys.executable, str(SCRIPT)))
    assert replayed == seen
    assert fake_provider.requests == [], "a replay must not reach a provider"
    flows = json.loads(offline.cli("flows", "list", "--json").stdout)
    assert [f["ccproxy"]["extra"]["recorded"]["match"] for f in flows] == ["exact"] * 5
    assert all(f["ccproxy"]["transform"]["reason"] == "recorded" for f in flows)
    lint = offline.cli("flows", "lint")
    assert lint.returncode == 0, lint.stdout


def test_unmatched_requests_name_the_closest_or_pass_through(
        recording: tuple[Path, list[dict[str, Any]]], daemon_factory: Callable[..., RunningDaemon],
        fake_provider: FakeProvider) -> None:
    path, _ = recording
    offline = daemon_factory(config=recorded_config(path), name="offline")
    claude = anthropic.Anthropic(base_url=offline.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="claude-opus-4-1", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert "no recorded flow matches" in str(caught.value) and "closest: flow" in str(caught.value)
    # Same model, same first message, a different follow-up: the longest common prefix answers.
    again = claude.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}, {"role": "user", "content": "more"}])
    assert again.content[0].text == "Hello from the fake provider."  # type: ignore[union-attr]
    fake_provider.reset()
    passing = daemon_factory(config={"providers": {"anthropic": {"provider": "recorded", "from": str(path),
                                                                 "unmatched": "gemini"}}}, name="pass")
    gpt_like = anthropic.Anthropic(base_url=passing.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    live = gpt_like.messages.create(model="gemini-2.5-flash", max_tokens=10,
                                    messages=[{"role": "user", "content": "not recorded"}])
    assert live.content[0].text == "Hello from the fake provider."  # type: ignore[union-attr]
    assert len(fake_provider.requests) == 1 and "generateContent" in fake_provider.requests[0].path


def test_a_recorded_anthropic_answer_reaches_an_openai_client_translated(
        recording: tuple[Path, list[dict[str, Any]]], daemon_factory: Callable[..., RunningDaemon]) -> None:
    path, _ = recording
    offline = daemon_factory(config=recorded_config(path, fast=True), name="offline")
    gpt = openai.OpenAI(base_url=offline.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    chat = gpt.chat.completions.create(model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "Hello from the fake provider."
    stream = gpt.chat.completions.create(model="claude-sonnet-4-5", stream=True, messages=[
        {"role": "user", "content": "What is the weather in Paris?"}])
    calls = [c.choices[0].delta.tool_calls for c in stream if c.choices and c.choices[0].delta.tool_calls]
    assert calls and calls[0][0].function.name == "get_weather"  # type: ignore[index, union-attr]


def test_a_jq_set_of_the_local_store_as_the_upstream(
        recording: tuple[Path, list[dict[str, Any]]], daemon_factory: Callable[..., RunningDaemon],
        fake_provider: FakeProvider) -> None:
    """`from:` a jq filter: the same config dir's stored flows answer, here only the haiku turn."""
    fake_provider.reset()
    only_haiku = 'map(select(.ccproxy.model == "claude-haiku-4-5"))'
    again = daemon_factory(config={"providers": {"anthropic": {"provider": "recorded", "from": only_haiku}}},
                           name="live")  # the recording fixture's config dir, its store kept
    claude = anthropic.Anthropic(base_url=again.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    plain = claude.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert plain.content[0].text == "Hello from the fake provider."  # type: ignore[union-attr]
    with pytest.raises(anthropic.NotFoundError):  # recorded, but not in the jq set
        claude.messages.create(model="claude-sonnet-4-5", max_tokens=512, messages=[
            {"role": "user", "content": "What is the weather in Paris?"}])
    assert fake_provider.requests == []
