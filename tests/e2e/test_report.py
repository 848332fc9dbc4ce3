"""`flows report SESSION`: a scripted agent that re-reads the same thing, its waste, and `--fail-over` as a CI gate."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from tests.daemon import RunningDaemon, wait_for
from tests.e2e.test_loop_guard import SESSION, TOOLS, anthropic_agent


def test_waste_report_and_fail_over(daemon: RunningDaemon) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    anthropic_agent(client, 6, stream=False)  # three identical get_weather calls, each result "sunny"
    again: dict[str, Any] = {"model": "claude-test", "max_tokens": 64, "tools": TOOLS,
                             "metadata": {"user_id": f"user_1_account_2_session_{SESSION}"},
                             "messages": [{"role": "user", "content": "weather in Paris?"}]}
    client.messages.create(**again)  # the opening turn once more: a retry
    wait_for(lambda: len(json.loads(daemon.cli("flows", "list", "--json").stdout)) == 7, 20, what="7 stored flows")

    out = daemon.cli("flows", "report", SESSION[:8], "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    m = doc["metrics"]
    assert doc["session_id"] == SESSION and m["turns"] == 7
    assert m["repeated_calls"] == 2 and m["repeated_results"] == 2
    assert doc["repeated_calls"][0]["call"] == 'get_weather({"location":"Paris"})' and doc["repeated_calls"][0]["times"] == 3
    assert m["tokens"] > 0 and len(doc["expensive_turns"]) == 5
    text = daemon.cli("flows", "report", SESSION)
    assert text.returncode == 0 and "3x get_weather" in text.stdout and "most expensive turns" in text.stdout

    gate = daemon.cli("flows", "report", SESSION, "--fail-over", "repeated_calls=1", "--fail-over", "tokens=1e12")
    assert gate.returncode == 1 and "over threshold: repeated_calls 2 > 1" in gate.stderr
    assert daemon.cli("flows", "report", SESSION, "--fail-over", "repeated_calls=2").returncode == 0
    bad = daemon.cli("flows", "report", SESSION, "--fail-over", "dollars=5")
    assert bad.returncode == 2 and "metric=N with a metric of tokens" in bad.stderr
    assert daemon.cli("flows", "report", "nosuchsession").returncode == 2
