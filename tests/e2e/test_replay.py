"""`ccproxy flows replay`: a recorded request resent through the daemon, as sent or to each other wire format,
recorded and linked to the original, compared side by side."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider


def stored(daemon: RunningDaemon, count: int) -> list[dict[str, Any]]:
    def docs() -> list[dict[str, Any]] | None:
        found = json.loads(daemon.cli("flows", "list", "--json").stdout or "[]")
        return found if len(found) >= count else None

    result: list[dict[str, Any]] = wait_for(docs, 30, 0.1, f"{count} stored flow(s)")
    return result


def replay(daemon: RunningDaemon, *args: str) -> dict[str, Any]:
    res = daemon.cli("flows", "replay", *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    result: dict[str, Any] = json.loads(res.stdout)
    return result


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_replay_as_sent_and_to_each_other_format(daemon: RunningDaemon, fake_provider: FakeProvider,
                                                 streamed: bool) -> None:
    claude = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    kwargs: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 64,
                              "messages": [{"role": "user", "content": "Say hello"}]}
    if streamed:
        with claude.messages.stream(**kwargs) as stream:
            stream.get_final_message()
    else:
        claude.messages.create(**kwargs)
    (original,) = stored(daemon, 1)
    fake_provider.reset()
    same = replay(daemon, original["id"][:8], "--times", "2")
    assert [r["replay_of"] for r in same["replays"]] == [original["id"]] * 2
    assert same["original"]["text"] == same["replays"][0]["text"] == "Hello from the fake provider."
    assert [r.body for r in fake_provider.requests] == [fake_provider.requests[0].body] * 2
    assert json.loads(fake_provider.requests[0].body)["messages"] == kwargs["messages"]
    assert fake_provider.requests[0].credential() == "sk-fake-anthropic-real-secret-0001"
    for to, path_part, model in [("openai/gpt-4o-mini", "/chat/completions", "gpt-4o-mini"),
                                 ("responses/gpt-4.1", "/responses", "gpt-4.1"),
                                 ("gemini/gemini-2.5-flash", "gemini-2.5-flash:", None)]:
        fake_provider.reset()
        out = replay(daemon, original["id"], "--to", to)
        (new,) = out["replays"]
        assert new["provider"] == to.split("/")[0] and new["status"] == 200, new
        assert new["text"] == "Hello from the fake provider." and new["stop_reason"]
        assert new["usage"] and new["ttfb_ms"] is not None and new["duration_ms"] is not None
        (sent,) = fake_provider.requests
        assert path_part in sent.path
        if model:
            assert json.loads(sent.body)["model"] == model
    flows = stored(daemon, 6)
    assert sum(1 for f in flows if f["ccproxy"]["replay_of"] == original["id"]) == 5


def test_replay_prints_side_by_side_and_refuses_bad_targets(daemon: RunningDaemon) -> None:
    claude = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    claude.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    (original,) = stored(daemon, 1)
    res = daemon.cli("flows", "replay", original["id"][:8], "--forwarded")
    assert res.returncode == 0, res.stderr
    assert f"original {original['id'][:8]}" in res.stdout and "replay 1" in res.stdout
    for row in ("stop reason", "usage", "cost", "latency", "first token"):
        assert row in res.stdout
    bad = daemon.cli("flows", "replay", original["id"][:8], "--to", "nope/x")
    assert bad.returncode == 2 and "no provider 'nope'" in bad.stderr
