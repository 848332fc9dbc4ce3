from __future__ import annotations

import json

from ccproxy.flows.show import message_text, show_json, show_text
from ccproxy.store.stored_flow import StoredFlow
from tests.store.factory import fixture_bytes, fixture_events, make_record


def stored(**kw: object) -> StoredFlow:
    rec = make_record(**kw)  # type: ignore[arg-type]
    return StoredFlow(json.loads(json.dumps(rec.doc)), dict(rec.parts))


def test_show_walks_the_four_phases() -> None:
    text = show_text(stored())
    order = ["== client request", "== forwarded request", "== provider response", "== response the client got"]
    positions = [text.index(h) for h in order]
    assert positions == sorted(positions)
    assert "model claude-x" in text and "provider anthropic" in text
    assert "x-api-key: sk-ant-oat-ccproxy-anthropic" in text
    assert "~ x-api-key: sk-ant-oat-ccproxy-anthropic -> [REDACTED]" in text
    assert "identical to the provider response" in text
    assert "sk-real-secret-key-123" not in text


def test_a_stream_is_reassembled_and_raw_shows_it_as_captured() -> None:
    events = fixture_events("anthropic_stream_tool.sse")
    body = fixture_bytes("anthropic_stream_tool.sse")
    f = stored(upstream_events=events, response_body=body, resp_headers=[["content-type", "text/event-stream"]])
    text = show_text(f)
    assert 'tool call: get_weather({"location": "Paris"}) id=toolu_fake01' in text
    assert "stop reason: tool_use" in text
    assert f"stream: {len(events)} anthropic events over" in text and "complete" in text
    assert "usage: in " in text
    raw = show_text(f, raw=True)
    assert "event: content_block_delta" in raw and "tool call:" not in raw


def test_a_changed_response_is_shown_on_its_own() -> None:
    up = fixture_events("anthropic_stream_text.sse")
    client = fixture_events("openai_stream_usage.sse")
    f = stored(upstream_events=up, client_events=client, upstream_body=fixture_bytes("anthropic_stream_text.sse"),
               response_body=fixture_bytes("openai_stream_usage.sse"),
               resp_headers=[["content-type", "text/event-stream"]])
    text = show_text(f)
    client_part = text[text.index("== response the client got"):]
    assert "openai events" in client_part and "stop reason: stop" in client_part


def test_show_json_has_bodies_events_and_answers() -> None:
    f = stored(upstream_events=fixture_events("gemini_stream.sse"))
    doc = show_json(f)
    assert doc["id"] == f.id and doc["ccproxy"]["model"] == "claude-x"
    assert json.loads(doc["bodies"]["client_request"])["model"] == "claude-x"
    assert doc["events"]["upstream"][0]["data"].startswith("{")
    assert doc["answers"]["upstream"]["text"] == "Hello from the fake provider."
    assert "sk-real-secret-key-123" not in json.dumps(doc)


def test_message_text_masks_and_pretty_prints() -> None:
    text = message_text("POST http://x/v1 HTTP/1.1", [("authorization", "Bearer abc"), ("a", "b")], b'{"b":1,"a":2}')
    assert "authorization: Bearer [REDACTED]" in text and "a: b" in text
    assert text.index('"a": 2') < text.index('"b": 1')


def test_raw_masks_a_clients_own_oauth_tokens_like_every_other_view() -> None:
    refresh = {"grant_type": "refresh_token", "refresh_token": "rt-client-own-secret-77", "client_id": "cli"}
    answer = b'{"access_token": "at-fresh-secret-88", "refresh_token": "rt-next-secret-99", "expires_in": 3600}'
    f = stored(body=refresh, path="/v1/oauth/token", response_body=answer)
    for text in (show_text(f), show_text(f, raw=True), json.dumps(show_json(f))):
        for secret in ("rt-client-own-secret-77", "at-fresh-secret-88", "rt-next-secret-99"):
            assert secret not in text
    raw = show_text(f, raw=True)
    assert '"refresh_token": "[REDACTED]"' in raw and '"expires_in": 3600}' in raw
