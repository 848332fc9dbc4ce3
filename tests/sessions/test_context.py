"""Context anatomy of request bodies built from known parts (pure)."""

from __future__ import annotations

import json
from typing import Any

from ccproxy.sessions.context import breakdown, growth, parts_of, tool_source

MEMORY = "Contents of /repo/CLAUDE.md (project instructions):\n" + "Use tabs. " * 200


def body() -> dict[str, Any]:
    schema = {"type": "object", "properties": {"q": {"type": "string", "description": "x" * 400}}}
    return {
        "model": "claude-test", "max_tokens": 100,
        "system": [{"type": "text", "text": "You are a coding agent. " * 50},
                   {"type": "text", "text": "<system-reminder>\n" + MEMORY + "\n</system-reminder>"}],
        "tools": [{"name": "Read", "input_schema": schema},
                  {"name": "mcp__github__search", "input_schema": schema},
                  {"name": "mcp__github__issue", "input_schema": schema}],
        "messages": [
            {"role": "user", "content": "read a.py"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"p": "a.py"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "print(1)\n" * 300},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 40000}}]},
        ],
    }


def test_parts_name_sources_memory_files_tool_results_and_images() -> None:
    parts = parts_of(body())
    by = {(p.category, p.name): p.chars for p in parts}
    assert ("memory", "/repo/CLAUDE.md") in by and by[("memory", "/repo/CLAUDE.md")] >= len(MEMORY)
    assert {n for c, n in by if c == "tools"} == {"builtin/Read", "mcp:github/mcp__github__search",
                                                   "mcp:github/mcp__github__issue"}
    assert by[("tool_results", "Read")] > 2700 and by[("images", "user image")] >= 40000
    assert sum(p.chars for p in parts) == len(json.dumps(body(), ensure_ascii=False))  # sizes add up
    assert tool_source("mcp__a__b__c") == "mcp:a" and tool_source("Bash") == "builtin"


def test_estimate_close_to_the_fake_and_calibrated_exactly() -> None:
    raw = json.dumps(body())
    image_chars = 40000 + len('{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}')
    reported = (len(raw) - image_chars) // 4 + 1600
    plain = breakdown(body())
    assert plain["method"] == "estimate (chars/4)" and plain["scale"] is None
    assert abs(plain["estimated_tokens"] - reported) / reported < 0.03
    done = breakdown(body(), {"input_tokens": reported - 100, "cache_read_input_tokens": 100}, "anthropic")
    assert done["reported_tokens"] == reported and abs(done["total_tokens"] - reported) <= 1
    assert list(done["tool_sources"]) == ["mcp:github", "builtin"]
    assert done["largest_tool_results"][0]["name"] == "Read"


def test_growth_says_which_categories_grew() -> None:
    turns = [{"flow_id": "a", "total_tokens": 10, "categories": {"history": {"tokens": 10}}},
             {"flow_id": "b", "total_tokens": 30, "categories": {"history": {"tokens": 12}, "tool_results": {"tokens": 18}}}]
    assert [t["grew"] for t in growth(turns)] == [{"history": 10}, {"history": 2, "tool_results": 18}]
