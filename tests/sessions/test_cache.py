from __future__ import annotations

from typing import Any

from ccproxy.sessions.api import cache_of
from ccproxy.sessions.cache import first_divergence
from ccproxy.store.cachemarks import breakpoints, ttl_of
from tests.sessions.agent_session import records
from tests.store.factory import bodies, facts


def rows() -> dict[str, dict[str, object]]:
    recs = records()
    report = cache_of(facts(recs), bodies(recs))
    return {t["flow_id"][:2]: t for conv in report for t in conv["turns"]}


def test_each_turn_says_why_the_cache_read_fell_short() -> None:
    by = rows()
    assert by["a0"]["cause"] == "cold_start" and by["a0"]["status"] == "first"  # not a failure: nothing to read yet
    assert by["a1"]["status"] == "hit" and by["a1"]["expected_read"] == 1800 and "cause" not in by["a1"]
    assert by["a2"]["cause"] == "ttl_expired" and by["a2"]["ttl_s"] == 300.0
    assert by["a3"]["cause"] == "prefix_drift"
    drift = by["a3"]["divergence"]
    assert isinstance(drift, dict)
    assert drift["path"] == "system[1].text"
    assert drift["offset"] == len("Working dir: /src/app")
    assert drift["breakpoints_after"][0] == "system[1].text"
    assert "system[1].text at offset 21 (the breakpoint's own block)" in str(by["a3"]["detail"])
    assert by["b1"]["status"] == "hit"


def test_a_changed_tool_definition_is_named_and_breakpoints_are_listed() -> None:
    before: dict[str, Any] = {"tools": [{"name": "Bash", "description": "Run"}, {"name": "Read", "description": "Read a file"}],
              "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
              "messages": [{"role": "user", "content": "hi"}]}
    after = {**before, "tools": [before["tools"][0], {"name": "Read", "description": "Read files"}]}
    assert breakpoints(before) == ["system[0].text"]
    drift = first_divergence(before, after)
    assert drift is not None and drift["path"] == 'tools[1] (tool "Read")'
    assert first_divergence(before, {**before, "messages": [*before["messages"], {"role": "user", "content": "x"}]}) is None


def test_moving_a_breakpoint_is_not_drift_and_one_hour_ttl_is_read() -> None:
    a = {"messages": [{"role": "user", "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}]}]}
    b = {"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]},
                      {"role": "user", "content": [{"type": "text", "text": "r", "cache_control": {"type": "ephemeral"}}]}]}
    assert first_divergence(a, b) is None
    assert ttl_of({"system": [{"cache_control": {"type": "ephemeral", "ttl": "1h"}}]}) == 3600.0
    assert ttl_of(a) == 300.0
