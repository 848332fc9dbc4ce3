"""A recorder capture -> span facts, as the writer process builds them."""

from __future__ import annotations

from ccproxy.flows.meta import ClientRequest, FlowMeta, SSEEvent, TransformInfo
from ccproxy.flows.record import Captured
from ccproxy.telemetry.capture import facts_of, wants_span
from tests.flows.factory import web_json

FORMATS = {"gem": "gemini", "claude": "anthropic"}


def capture(meta: FlowMeta, **kw: object) -> Captured:
    return Captured(web=web_json("f-1", 1000.0, host="g.example", port=443), meta=meta, request_body=b'{"a":1}',
                    response_body=b"{}", **kw)  # type: ignore[arg-type]


def test_facts_carry_the_route_and_the_bodies() -> None:
    meta = FlowMeta(source="forward", provider="gem", session_id="s1")
    meta.transform = TransformInfo(mode="transform", reason="rule[0]", to_format="gemini", model="gemini-x")
    meta.upstream_events.append(SSEEvent(1.0, "{}"))
    meta.client_request = ClientRequest("POST", "http://127.0.0.1:1/v1/messages", "HTTP/1.1", [], b"{}", 999.5)
    facts = facts_of(capture(meta), FORMATS, "conv-1")
    assert (facts.source, facts.provider, facts.wire_format, facts.route_action) == ("forward", "gem", "gemini", "transform")
    assert facts.route_model == "gemini-x" and facts.session_id == "s1" and facts.status_code == 200
    assert facts.conversation_id == "conv-1" and facts.upstream_events == meta.upstream_events
    assert facts.start == 999.5 and facts.end == 1000.1 and facts.url == "http://127.0.0.1:1/v1/messages"
    assert (facts.method, facts.server_address, facts.server_port) == ("POST", "g.example", 443)


def test_provider_format_without_a_transform_and_the_url_without_a_client_snapshot() -> None:
    facts = facts_of(capture(FlowMeta(provider="claude")), FORMATS)
    assert facts.wire_format == "anthropic" and facts.url == "http://g.example:443/v1/messages"
    assert facts.request_body == b'{"a":1}' and facts_of(capture(FlowMeta(provider="x")), FORMATS).wire_format is None


def test_a_websocket_flow_has_one_span_at_its_101() -> None:
    opened = capture(FlowMeta(), websocket_messages=[], websocket_state={"timestamp_end": None})
    ended = capture(FlowMeta(), websocket_messages=[], websocket_state={"timestamp_end": 1002.0})
    assert wants_span(capture(FlowMeta())) and wants_span(opened) and not wants_span(ended)


def test_the_daemon_names_the_variable_the_span_writer_reads() -> None:
    from ccproxy.flows import writer
    from ccproxy.telemetry import writer as span_writer

    assert writer.TELEMETRY_ENV == span_writer.TELEMETRY_ENV and span_writer.__name__ == writer.CHILD_WITH_SPANS
