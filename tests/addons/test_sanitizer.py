from __future__ import annotations

import json

from mitmproxy.test import tflow

from ccproxy.addons.sanitizer import EgressSanitizer


def test_internal_headers_go_and_other_headers_keep_their_order() -> None:
    flow = tflow.tflow()
    flow.request.headers.fields = (
        (b"Accept", b"*/*"), (b"X-CCProxy-Hooks", b"-shape"), (b"x-api-key", b"real"),
        (b"x-ccproxy-trace", b"1"), (b"accept", b"text/plain"),
    )
    EgressSanitizer().request(flow)
    assert flow.request.headers.fields == ((b"Accept", b"*/*"), (b"x-api-key", b"real"), (b"accept", b"text/plain"))
    assert flow.response is None


def test_a_sentinel_left_in_a_header_or_the_url_is_refused() -> None:
    for where, setup in (
        ("header authorization", lambda f: f.request.headers.__setitem__("authorization", "Bearer sk-ant-oat-ccproxy-x")),
        ("URL", lambda f: setattr(f.request, "path", "/v1beta/models?key=sk-ant-oat-ccproxy-gemini")),
    ):
        flow = tflow.tflow()
        setup(flow)
        EgressSanitizer().request(flow)
        assert flow.response is not None and flow.response.status_code == 502
        body = json.loads(flow.response.content or b"")
        assert body["error"]["type"] == "ccproxy_sentinel_error" and where in body["error"]["message"]


def test_a_clean_request_is_left_alone() -> None:
    flow = tflow.tflow()
    before = flow.request.headers.fields
    EgressSanitizer().request(flow)
    assert flow.response is None and flow.request.headers.fields == before


def _with_body(body: bytes, content_type: str = "application/json") -> tflow.HTTPFlow:
    flow = tflow.tflow()
    flow.request.headers["content-type"] = content_type
    flow.request.content = body
    return flow


def test_a_sentinel_as_a_body_fields_value_is_refused() -> None:
    for body, ctype in (
        (b'{"model": "m", "api_key": "sk-ant-oat-ccproxy-anthropic"}', "application/json"),
        (b'{"auth": {"authorization": "Bearer sk-ant-oat-ccproxy-openai"}}', "application/json"),
        (b'{"grant_type":"refresh_token","refresh_token":"sk-ant-oat-ccproxy-claude"}', "application/json"),
        (b"grant_type=refresh_token&refresh_token=sk-ant-oat-ccproxy-claude", "application/x-www-form-urlencoded"),
        (b"key=sk-ant-oat-ccproxy-gemini", "application/x-www-form-urlencoded"),
    ):
        flow = _with_body(body, ctype)
        EgressSanitizer().request(flow)
        assert flow.response is not None and flow.response.status_code == 502, body
        error = json.loads(flow.response.content or b"")["error"]
        assert error["type"] == "ccproxy_sentinel_error" and "request body" in error["message"]


def test_a_gzipped_body_is_read_before_the_check() -> None:
    flow = _with_body(b"")
    flow.request.headers["content-encoding"] = "gzip"
    flow.request.content = b'{"api_key": "sk-ant-oat-ccproxy-anthropic"}'  # encodes per the header
    assert b"sk-ant-oat" not in (flow.request.raw_content or b"")
    EgressSanitizer().request(flow)
    assert flow.response is not None and flow.response.status_code == 502


def test_a_sentinel_quoted_in_text_is_data_and_passes() -> None:
    prompt = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "my README says: use api_key=sk-ant-oat-ccproxy-anthropic with ccproxy"},
            {"role": "user", "content": 'config: {"api_key": "sk-ant-oat-ccproxy-openai"}'},
            {"role": "user", "content": "the form is sk-ant-oat-ccproxy-<provider>"},
        ],
    }
    flow = _with_body(json.dumps(prompt).encode())
    EgressSanitizer().request(flow)
    assert flow.response is None
