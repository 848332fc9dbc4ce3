from __future__ import annotations

import json

from mitmproxy import contentviews, http
from mitmproxy.test import taddons, tflow

from ccproxy.addons.contentview import ContentViews
from ccproxy.addons.inspector import Inspector
from ccproxy.flowmeta import UpstreamResponse, get_meta
from ccproxy.store.sse import SSEParser
from tests.store.factory import fixture_bytes


def test_client_request_view_shows_the_pre_pipeline_snapshot() -> None:
    addon = ContentViews()
    with taddons.context(addon):
        addon.load(None)
        assert "client request" in contentviews.registry.available_views()
        flow = tflow.tflow(resp=True)
        flow.request.headers["authorization"] = "Bearer sk-ant-oat-ccproxy-openai"
        flow.request.content = b'{"model":"gpt-x","messages":[]}'
        Inspector().request(flow)
        flow.request.headers["authorization"] = "Bearer sk-live-credential"
        flow.request.content = b'{"model":"changed"}'
        result = contentviews.prettify_message(flow.request, flow, view_name="Client Request")
    assert result.view_name == "Client Request"
    assert "authorization: Bearer sk-ant-oat-ccproxy-openai" in result.text
    assert '"model": "gpt-x"' in result.text and "changed" not in result.text
    auto = contentviews.prettify_message(flow.request, flow)
    assert auto.view_name != "Client Request"


def test_provider_response_view_reassembles_a_stream() -> None:
    addon = ContentViews()
    with taddons.context(addon):
        addon.load(None)
        flow = tflow.tflow(resp=True)
        body = fixture_bytes("anthropic_stream_text.sse")
        meta = get_meta(flow)
        meta.upstream_response = UpstreamResponse(200, "OK", [("content-type", "text/event-stream")], body)
        meta.upstream_events = SSEParser().feed(body, now=1.0)
        flow.response = http.Response.make(200, b"translated", {"content-type": "text/event-stream"})
        result = contentviews.prettify_message(flow.response, flow, view_name="Provider Response")
        missing = contentviews.prettify_message(tflow.tflow(resp=True).response, tflow.tflow(), "Provider Response")
    assert "text: Hello from the fake provider." in result.text
    assert "event: message_start" in result.text
    assert "stop reason: end_turn" in result.text
    assert missing.syntax_highlight == "error"
    json.dumps(result.text)
