"""The gemini_cli hook: the envelope's session id onto the flow, a warning when it leaves untranslated."""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import ClientRequest, TransformInfo, get_meta
from ccproxy.hooks.gemini_cli import gemini_cli
from ccproxy.pipeline.context import HookContext
from tests.wire.golden import load_bytes

URL = "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"


def flow_for(url: str, body: bytes, mode: str = "passthrough", dest: str = URL) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = http.Request.make("POST", dest, body)
    meta = get_meta(flow)
    meta.client_request = ClientRequest("POST", url, "HTTP/1.1", [], body)
    meta.transform = TransformInfo(mode=mode, reason="original")  # type: ignore[arg-type]
    return flow


def run(flow: http.HTTPFlow) -> None:
    gemini_cli(HookContext(flow=flow, config=CCProxyConfig(), stage="outbound"))


def test_the_session_id_comes_from_the_envelope_and_the_body_is_left_alone() -> None:
    body = load_bytes("code_assist_request.json")
    flow = flow_for(URL, body)
    run(flow)
    assert get_meta(flow).session_id == "8c1f7e2a-4b5d-4e6f-9a0b-1c2d3e4f5a6b"
    assert flow.request.content == body and not get_meta(flow).warnings


def test_a_redirect_elsewhere_warns() -> None:
    flow = flow_for(URL, load_bytes("code_assist_request.json"), "redirect", "https://api.example.com/v1internal:x")
    run(flow)
    assert "only Code Assist reads it" in get_meta(flow).warnings[0]


def test_other_calls_are_not_touched() -> None:
    flow = flow_for("https://api.anthropic.com/v1/messages", b'{"request": {"contents": [], "session_id": "s"}}')
    run(flow)
    count = flow_for("https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist", b'{"metadata": {}}')
    run(count)
    assert get_meta(flow).session_id is None and get_meta(count).session_id is None
