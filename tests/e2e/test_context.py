"""Context anatomy end to end: a request built from known parts through the Anthropic SDK, then
`flows context` against the usage the fake provider returned for it."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider
from tests.sessions.test_context import body


def test_flows_context_matches_the_providers_usage(shared_daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic")
    ask: dict[str, Any] = body()
    ask["messages"][2]["content"].pop()  # no image: the fake counts characters, not pixels
    reply = client.messages.create(**ask)
    sent = fake_provider.requests[-1].body
    reported = reply.usage.input_tokens + (reply.usage.cache_read_input_tokens or 0)
    assert reply.usage.input_tokens == len(json.dumps(json.loads(sent))) // 4  # what the fake bills

    def stored() -> dict[str, Any] | None:
        out = shared_daemon.cli("flows", "context", "--json")
        doc: dict[str, Any] = json.loads(out.stdout) if out.returncode == 0 else {}
        return doc if doc.get("reported_tokens") == reported else None

    doc = wait_for(stored, timeout=20, what="the flow's context breakdown")
    assert abs(doc["estimated_tokens"] - reported) / reported < 0.03, doc["estimated_tokens"]
    assert abs(doc["total_tokens"] - reported) <= 1 and doc["method"].endswith("calibrated to the provider's usage")
    assert doc["tool_sources"].keys() == {"mcp:github", "builtin"}
    assert {p["name"] for p in doc["parts"] if p["category"] == "memory"} == {"/repo/CLAUDE.md"}
    text = shared_daemon.cli("flows", "context", doc["flow_id"][:8]).stdout
    assert "tool schemas by source: mcp:github" in text and "memory files: /repo/CLAUDE.md" in text
    grew = shared_daemon.cli("flows", "context", "--growth", "--json")
    assert json.loads(grew.stdout)["growth"][-1]["flow_id"] == doc["flow_id"]
