from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccproxy.config.model import CCProxyConfig
from ccproxy.mcp.server import build_server
from ccproxy.mcp.status import DaemonFacts
from ccproxy.store.record import FlowRecord
from tests.mcp.test_server import call
from tests.sessions.agent_session import SESSION, SUBAGENT_PROMPT, records

Stored = Callable[..., list[FlowRecord]]


def server(config: CCProxyConfig, config_dir: Path) -> Any:
    return build_server(DaemonFacts(config, config_dir, time.time(), lambda: {}, None))


def payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_session_tools_answer_tree_cache_lint_and_diff(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(*records())
    tree, cache_all, cache_one, lint, lint_all, diff, bad = call(
        server(config, tmp_path),
        ("list_conversations", {}), ("explain_cache", {}), ("explain_cache", {"id": "a3"}),
        ("lint_streams", {}), ("lint_streams", {"all": True}), ("turn_diff", {"id": "a1"}),
        ("turn_diff", {"id": "a0"}))
    sessions = payload(tree)
    assert sessions["total_sessions"] == 1 and sessions["conversations"] == 3
    main = sessions["sessions"][0]["conversations"][0]
    assert sessions["sessions"][0]["session_id"] == SESSION
    assert main["turns"][0]["children"][0]["title"] == SUBAGENT_PROMPT
    causes = [(t["flow_id"][:2], t["cause"]) for t in payload(cache_all)["shortfalls"]]
    assert causes == [("a2", "ttl_expired"), ("a3", "prefix_drift")]
    (conv,) = payload(cache_one)["conversations"]
    assert [t["flow_id"][:2] for t in conv["turns"]] == ["a0", "a1", "a2", "a3"]
    invalid = payload(lint)
    assert invalid["streams"] == 2 and invalid["invalid"] == 1
    assert invalid["results"][0]["summary"].startswith("upstream valid (anthropic, 7 events), client stream invalid")
    assert len(payload(lint_all)["results"]) == 2
    entries = payload(diff)["entries"]
    assert ("added", "messages[1]") in {(e["op"], e["path"]) for e in entries}
    assert bad.is_error and "first turn of its conversation" in bad.content[0].text


def test_long_answers_come_in_pages(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(*records())
    first, second = call(server(config, tmp_path), ("list_conversations", {"max_chars": 1000}),
                         ("list_conversations", {"max_chars": 100000, "offset": 1000}))
    text = first.content[0].text
    assert "truncated at char 1000" in text and "list_conversations(jq=<same>, limit=0, offset=1000)" in text
    assert second.content[0].text.startswith("[ccproxy: chars 1000-")


def test_costs_in_the_tree_and_session_cost(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    from ccproxy.sessions.cost import flow_cost

    recs = stored(*records())
    expected = sum(c.usd for r in recs if (c := flow_cost(r.doc)) and c.usd)
    tree, by_model, by_day = call(server(config, tmp_path), ("list_conversations", {}),
                                  ("session_cost", {}), ("session_cost", {"by": "day"}))
    (session,) = payload(tree)["sessions"]
    assert session["cost"]["usd"] == round(expected, 10) and session["cost"]["unknown"] == 0
    assert all("cost" in t for t in session["conversations"][0]["turns"])
    report = payload(by_model)
    assert report["total"]["usd"] == round(expected, 10) and report["prices"].startswith("genai-prices ")
    assert [r["key"] for r in report["rows"]] == ["claude-sonnet-4-5"]
    assert len(payload(by_day)["rows"]) == 1
def test_context_breakdown_and_quota_status(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(*records())
    context, growth, quota, missing = call(
        server(config, tmp_path), ("context_breakdown", {"id": "a3"}), ("context_breakdown", {"id": "a3", "growth": True}),
        ("quota_status", {}), ("context_breakdown", {"id": "zz"}))
    doc = payload(context)
    assert doc["flow_id"].startswith("a3") and doc["total_tokens"] > 0 and "history" in doc["categories"]
    assert [t["flow_id"][:2] for t in payload(growth)["growth"]] == ["a0", "a1", "a2", "a3"]
    assert payload(quota) == []
    assert missing.is_error
