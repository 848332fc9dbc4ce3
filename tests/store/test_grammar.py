"""`Grammar`: a stream grammar as a table, so a new event type is one entry, not a new branch."""

from __future__ import annotations

from dataclasses import replace

from ccproxy.flowmeta import SSEEvent
from ccproxy.store.grammar import Checker, Grammar
from ccproxy.store.lint import lint_events
from ccproxy.store.streams import ANTHROPIC


def walk(grammar: Grammar, kinds: list[str]) -> tuple[str, list[tuple[int, str, str]]]:
    c, state = Checker(), "start"
    for n, kind in enumerate(kinds, 1):
        state = grammar.step(c, n, state, kind)
    return state, [(f.event, f.rule, f.severity) for f in c.findings]


def test_the_anthropic_table_walks_a_message_and_names_what_is_misplaced() -> None:
    ok = ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
          "message_delta", "ping", "message_stop"]
    assert walk(ANTHROPIC, ok) == ("stopped", [])
    assert walk(ANTHROPIC, ["message_start", "message_stop"]) == ("stopped", [(2, "message_stop", "error")])
    assert walk(ANTHROPIC, ["message_start", "message_start"]) == ("message", [(2, "message_start", "error")])
    assert walk(ANTHROPIC, ["message_start", "shiny_new_event"]) == ("message", [(2, "unknown-event", "warning")])


def test_a_new_event_type_is_one_entry_in_the_table() -> None:
    moves = {**ANTHROPIC.moves, "message": {**ANTHROPIC.moves["message"], "shiny_new_event": "message"}}
    assert walk(replace(ANTHROPIC, moves=moves), ["message_start", "shiny_new_event"]) == ("message", [])


def test_an_unknown_event_in_a_real_stream_is_a_warning_not_an_error() -> None:
    events = [SSEEvent(0.0, '{"type": "message_start", "message": {}}', "message_start"),
              SSEEvent(0.0, '{"type": "shiny_new_event"}', "shiny_new_event")]
    lint = lint_events(events, "anthropic")
    assert [(f.event, f.rule, f.severity) for f in lint.findings][:1] == [(2, "unknown-event", "warning")]
