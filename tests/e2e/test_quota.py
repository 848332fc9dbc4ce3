"""Subscription windows end to end: the fake sends Anthropic's and OpenAI's real rate-limit headers
(429s included); ccproxy keeps them per flow, reports them per credential and warns at quota.warn_at."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

SESSION = "5e55a0de-0000-4000-8000-000000000027"
USER = {"user_id": f"user_1_account_2_session_{SESSION}"}


def stored(daemon: RunningDaemon, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        out = daemon.cli("flows", "list", "--json")
        docs: list[dict[str, Any]] = json.loads(out.stdout or "[]")
        return docs if len(docs) >= count else None

    found: list[dict[str, Any]] = wait_for(ready, timeout=20, what=f"{count} stored flows")
    return found


def quota(daemon: RunningDaemon) -> list[dict[str, Any]]:
    out = daemon.cli("flows", "quota", "--json")
    assert out.returncode == 0, out.stderr
    report: list[dict[str, Any]] = json.loads(out.stdout)
    return report


def test_anthropic_windows_warning_429_and_report(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.quota_utilization, fake_provider.quota_step = 0.76, 0.02
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    ask: dict[str, Any] = {"max_tokens": 32, "metadata": USER, "messages": [{"role": "user", "content": "hi"}]}
    client.messages.create(model="claude-test", **ask)  # 78 %
    with client.messages.stream(model="claude-test", **ask) as stream:  # 80 %: the warning
        stream.get_final_message()
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="claude-test-error-429", **ask)
    docs = stored(daemon, 3)
    warned = [d for d in docs if any("window 5h is at 80%" in w for w in d["ccproxy"]["warnings"])]
    assert len(warned) == 1, [d["ccproxy"]["warnings"] for d in docs]
    rejected = next(d for d in docs if d["response"]["status_code"] == 429)
    q = rejected["ccproxy"]["extra"]["quota"]
    assert q["credential"] == "anthropic" and q["status"] == "rejected" and q["retry_after"] == 120
    assert q["windows"]["5h"]["utilization"] == 82.0 and q["windows"]["5h"]["reset"] == fake_provider.quota_reset

    [cred] = quota(daemon)
    assert (cred["credential"], cred["kind"], cred["flows"], cred["rejected"]) == ("anthropic", "anthropic-unified", 3, 1)
    five = cred["windows"]["5h"]
    assert five["utilization"] == 82.0 and five["by_session"][SESSION]["points"] == pytest.approx(4.0)
    assert set(five["by_model"]) == {"claude-test", "claude-test-error-429"}
    text = daemon.cli("flows", "quota").stdout
    assert "credential anthropic (anthropic-unified)" in text and "82.0% used" in text
    status = daemon.cli("status", "--json")
    assert json.loads(status.stdout)["quota"][0]["windows"]["5h"]["utilization"] == 82.0
    assert "window 5h is at 80%" in daemon.log_text()
    assert "credential anthropic (anthropic-unified)" in daemon.cli("status").stdout

    # Each warning waits in the MCP notification buffer for the session's next request, which carries it:
    # the 80 % one went out with the request that was refused, the refusal's with the one after.
    assert "window 5h is at 80%" in json.dumps(fake_provider.requests[-1].json)
    client.messages.create(model="claude-test", **ask)
    sent = json.dumps(fake_provider.requests[-1].json)
    assert "quota_warning" in sent and "the provider refused the request" in sent


def test_openai_rate_limit_headers_per_flow(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.quota_utilization, fake_provider.quota_step = 0.5, 0.0
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-test-error-429", messages=[{"role": "user", "content": "hi"}])
    stored(daemon, 2)
    [cred] = quota(daemon)
    assert (cred["credential"], cred["kind"], cred["rejected"]) == ("openai", "openai", 1)
    tokens = cred["windows"]["tokens"]
    assert (tokens["limit"], tokens["remaining"], tokens["utilization"]) == (10000, 5000, 50.0)
    assert cred["windows"]["requests"]["remaining"] == 0
