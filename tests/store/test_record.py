from __future__ import annotations

import json

from ccproxy.flowmeta import ClientRequest, FlowMeta, UpstreamResponse
from ccproxy.store.record import PARTS, Captured, build_record, events_from_json, events_json
from tests.store.factory import fixture_events, make_record, web_json


def test_the_doc_is_mitmweb_json_plus_a_ccproxy_object() -> None:
    rec = make_record(ts=1000.0)
    doc = rec.doc
    assert doc["id"] == rec.id and rec.ts == 1000.0
    assert doc["request"]["method"] == "POST" and doc["request"]["pretty_host"] == "127.0.0.1"
    assert doc["response"]["status_code"] == 200
    ccp = doc["ccproxy"]
    assert ccp["source"] == "reverse" and ccp["provider"] == "anthropic" and ccp["auth_injected"] is True
    assert ccp["model"] == "claude-x"
    assert ccp["client_request"]["method"] == "POST"
    assert ccp["client_request"]["url"] == "http://127.0.0.1:4000/v1/messages"
    assert ccp["conversation_id"] and len(ccp["conversation_id"]) == 16
    assert ccp["duration_ms"] == 100.0 and ccp["ttfb_ms"] == 50.0
    assert ccp["transform"]["mode"] == "route"
    assert ccp["changed"] == {"url": True, "request_body": False, "response_body": False}
    json.dumps(doc)  # JSON-safe


def test_credentials_are_masked_in_the_doc_and_kept_in_raw_headers() -> None:
    rec = make_record()
    text = json.dumps(rec.doc)
    assert "sk-real-secret-key-123" not in text
    assert "sk-ant-oat-ccproxy-anthropic" in text  # the sentinel is a placeholder
    raw = json.loads(rec.parts["raw_headers"])
    assert ["x-api-key", "sk-real-secret-key-123"] in raw["request"]


def test_usage_comes_from_the_upstream_stream() -> None:
    events = fixture_events("openai_stream_usage.sse")
    rec = make_record(path="/v1/chat/completions", upstream_events=events,
                      resp_headers=[["content-type", "text/event-stream"]])
    ccp = rec.doc["ccproxy"]
    assert ccp["usage"] == {"input_tokens": 33, "output_tokens": 7, "cache_read_input_tokens": 3, "total_tokens": 40}
    assert ccp["streamed"] is True and ccp["events"] == {"upstream": len(events), "client": len(events)}
    assert ccp["stop_reason"] == "stop"
    assert events_from_json(rec.parts["upstream_events"])[0].data == events[0].data


def test_parts_follow_phase_order_and_events_round_trip() -> None:
    rec = make_record(upstream_events=fixture_events("gemini_stream.sse"))
    assert list(rec.parts) == [p for p in PARTS if p in rec.parts]
    events = fixture_events("gemini_stream.sse")
    assert events_from_json(events_json(events)) == events


def test_a_failed_flow_keeps_the_error_and_no_response() -> None:
    rec = make_record(status=None)
    ccp = rec.doc["ccproxy"]
    assert "response" not in rec.doc
    assert ccp["error"] == "connection reset"
    assert ccp["upstream_response"] is None
    assert ccp["duration_ms"] == 200.0
    assert "response" not in rec.parts and "upstream_response" not in rec.parts


def test_a_stream_cut_mid_way_still_records_what_the_provider_sent() -> None:
    meta = FlowMeta(source="reverse")
    meta.client_request = ClientRequest("POST", "http://127.0.0.1:4000/v1/messages", "HTTP/1.1", [], b"{}", 5.0)
    meta.upstream_raw = bytearray(b"event: message_start\ndata: {}\n\n")
    meta.upstream_events = fixture_events("anthropic_stream_cut.sse")
    web = web_json("f1", 5.0, resp_headers=[["content-type", "text/event-stream"]])
    rec = build_record(Captured(web=web, meta=meta, request_body=b"{}", response_body=b"partial",
                                error="peer closed connection", error_ts=6.0))
    ccp = rec.doc["ccproxy"]
    assert ccp["upstream_response"]["status_code"] == 200
    assert rec.parts["upstream_response"] == b"event: message_start\ndata: {}\n\n"
    assert ccp["error"] == "peer closed connection"
    assert ccp["usage"]["input_tokens"] == 30


def test_meta_usage_and_conversation_set_by_a_hook_win() -> None:
    meta = FlowMeta(source="wireguard", usage={"input_tokens": 1}, conversation_id="from-hook")
    meta.upstream_response = UpstreamResponse(200, "OK", [], b'{"usage": {"input_tokens": 99}}')
    rec = build_record(Captured(web=web_json("f2", 1.0), meta=meta, request_body=b"", response_body=b""))
    assert rec.doc["ccproxy"]["usage"] == {"input_tokens": 1}
    assert rec.doc["ccproxy"]["conversation_id"] == "from-hook"
    assert rec.doc["ccproxy"]["client_request"] is None


def test_a_provider_error_answer_becomes_the_flow_error() -> None:
    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    rec = make_record(status=529, response_body=body)
    assert rec.doc["ccproxy"]["error"] == "provider answered 529: Overloaded"
    assert make_record().doc["ccproxy"]["error"] is None
