from __future__ import annotations

import json

import pytest

from ccproxy.flowmeta import SSEEvent
from ccproxy.sessions.api import lint_of
from ccproxy.store.lint import lint_events, sniff
from tests.sessions.agent_session import records
from tests.store.factory import facts, fixture_events

VALID = [("anthropic_stream_text.sse", "anthropic"), ("anthropic_stream_tool.sse", "anthropic"),
         ("anthropic_stream_thinking.sse", "anthropic"), ("openai_stream_usage.sse", "openai_chat"),
         ("openai_stream_tool.sse", "openai_chat"), ("responses_stream_text.sse", "openai_responses"),
         ("responses_stream_tool.sse", "openai_responses"), ("gemini_stream.sse", "gemini"),
         ("gemini_stream_tool.sse", "gemini")]


@pytest.mark.parametrize(("name", "fmt"), VALID)
def test_recorded_provider_streams_are_valid(name: str, fmt: str) -> None:
    events = fixture_events(name)
    assert sniff(events) == fmt
    lint = lint_events(events)
    assert lint.valid, lint.findings


def test_a_cut_anthropic_stream_is_invalid_at_the_end() -> None:
    lint = lint_events(fixture_events("anthropic_stream_cut.sse"))
    assert not lint.valid
    assert {f.rule for f in lint.findings} >= {"last", "unclosed-block"}


def _mutate(name: str, index: int, change: dict[str, object] | None) -> list[SSEEvent]:
    events = fixture_events(name)
    if change is None:
        del events[index]
    else:
        doc = json.loads(events[index].data)
        doc.update(change)
        events[index].data = json.dumps(doc)
    return events


def test_anthropic_grammar_violations_name_the_event() -> None:
    no_start = lint_events(_mutate("anthropic_stream_tool.sse", 1, None))
    assert no_start.first_error() is not None and no_start.first_error().event == 2  # type: ignore[union-attr]
    assert no_start.findings[0].rule == "delta-block"
    wrong = fixture_events("anthropic_stream_tool.sse")
    doc = json.loads(wrong[2].data)
    doc["delta"] = {"type": "text_delta", "text": "x"}
    wrong[2].data = json.dumps(doc)
    found = lint_events(wrong).first_error()
    assert found is not None and (found.event, found.rule) == (3, "delta-type")
    no_usage = _mutate("anthropic_stream_tool.sse", 5, {"usage": {}})
    assert [f.rule for f in lint_events(no_usage).findings] == ["usage"]


def test_openai_chat_violations() -> None:
    events = fixture_events("openai_stream_tool.sse")
    doc = json.loads(events[1].data)
    doc["choices"][0]["delta"]["tool_calls"][0]["index"] = 1
    events[1].data = json.dumps(doc)
    rules = [f.rule for f in lint_events(events).findings if f.severity == "error"]
    assert "tool-index" in rules
    twice = fixture_events("openai_stream_usage.sse")
    finish = next(e for e in twice if '"finish_reason": "' in e.data)
    twice.insert(twice.index(finish) + 1, SSEEvent(finish.t, finish.data))
    assert "finish_reason" in [f.rule for f in lint_events(twice).findings]


def test_responses_and_gemini_violations() -> None:
    resp = _mutate("responses_stream_text.sse", 0, None)
    assert lint_events(resp, "openai_responses").findings[0].rule == "first"
    gem = fixture_events("gemini_stream.sse")
    gem.append(SSEEvent(gem[-1].t, gem[-1].data))
    assert "finishReason" in [f.rule for f in lint_events(gem).findings]


def test_both_sides_of_a_transform_are_linted_separately() -> None:
    report = {r["flow_id"][:2]: r for r in lint_of(facts(records()))}
    assert report["b0"]["valid"] and report["b0"]["summary"].startswith("upstream valid (anthropic, 7 events)")
    bad = report["c0"]
    assert bad["upstream"]["valid"] and not bad["client"]["valid"]
    assert bad["summary"] == ("upstream valid (anthropic, 7 events), client stream invalid at event 1 "
                              "(openai_chat): choice 0: content before the role chunk")


def test_a_stream_broken_throughout_keeps_the_first_findings() -> None:
    start = fixture_events("anthropic_stream_text.sse")[0]
    lint = lint_events([start, *[SSEEvent(1.0, '{"type": "content_block_delta", "index": 7, "delta": {}}',
                                          "content_block_delta") for _ in range(200)]])
    assert len(lint.findings) == 51 and lint.findings[-1].rule == "truncated"
    assert lint.findings[-1].message == "151 more finding(s) not shown" and not lint.valid  # 200 deltas + no stop
