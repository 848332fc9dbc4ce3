from __future__ import annotations

import base64
import gzip
import json

import pytest
from mitmproxy import websocket
from mitmproxy.test import taddons, tflow
from wsproto.frame_protocol import Opcode

from ccproxy.addons.sanitizer import EgressSanitizer
from ccproxy.flowmeta import TransformInfo, get_meta


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


def _refused(flow: tflow.HTTPFlow) -> int | None:
    EgressSanitizer().request(flow)
    return flow.response.status_code if flow.response is not None else None


@pytest.mark.parametrize("body,ctype", [
    (b'{"api_key": "sk-ant-oat-ccproxy-anthrop\\u0069c"}', "application/json"),
    (b'{"api_key": "\\u0073k-ant-oat-ccproxy-anthropic"}', "application/json"),
    (b'{"api_key": "sk-ant-oat-ccproxy-anthropic  \\n"}', "application/json"),
    (b'{"api_key": "sk-ant-oat-ccproxy-anthropic "}', "text/plain"),
    (b"sk-ant-oat-ccproxy-anthropic\n", "text/plain"),
    ('{"api_key": "sk-ant-oat-ccproxy-anthropic"}'.encode("utf-16"), "application/json; charset=utf-16"),
    ('{"api_key": "sk-ant-oat-ccproxy-anthropic"}'.encode("utf-16-le"), "application/json; charset=utf-16-le"),
    (b"refresh_token=sk%2Dant%2Doat%2Dccproxy%2Danthropic", "application/x-www-form-urlencoded"),
    (b'--xx\r\ncontent-disposition: form-data; name="api_key"\r\n\r\nsk-ant-oat-ccproxy-anthropic\r\n--xx--\r\n',
     "multipart/form-data; boundary=xx"),
])
def test_a_sentinel_in_any_decoded_form_of_a_body_value_is_refused(body: bytes, ctype: str) -> None:
    assert _refused(_with_body(body, ctype)) == 502


def test_a_percent_encoded_sentinel_in_the_url_or_a_basic_credential_is_refused() -> None:
    flow = tflow.tflow()
    flow.request.path = "/v1/messages?foo=sk%2Dant%2Doat%2Dccproxy%2Danthropic"
    assert _refused(flow) == 502
    flow = tflow.tflow()
    flow.request.headers["authorization"] = "Basic " + base64.b64encode(b"u:sk-ant-oat-ccproxy-x").decode()
    assert _refused(flow) == 502


@pytest.mark.parametrize("raw,encoding", [
    (b'{"api_key": "sk-ant-oat-ccproxy-anthropic"}', "x-foo"),
    (gzip.compress(b'{"a": 1}'), "gzip, gzip"),
    (b'{"a": 1}', "br"),
    (gzip.compress(b'{"a": 1}')[:-8] + b"\0\0\0\0" + gzip.compress(b'{"a": 1}')[-4:], "gzip"),
])
def test_an_undecodable_body_on_an_injected_route_gets_a_415_in_the_clients_format(raw: bytes, encoding: str) -> None:
    flow = _with_body(b"")
    flow.request.headers["content-encoding"] = encoding
    flow.request.raw_content = raw
    get_meta(flow).auth_injected = True
    get_meta(flow).transform = TransformInfo(mode="transform", reason="sentinel", from_format="openai")
    assert _refused(flow) == 415
    assert flow.response is not None
    error = json.loads(flow.response.content or b"")["error"]
    assert "cannot decode the request body" in error["message"] and "type" in error  # OpenAI's shape
    # On a route where the client brings its own key, ccproxy has nothing to protect: forwarded.
    flow = _with_body(b"")
    flow.request.headers["content-encoding"] = encoding
    flow.request.raw_content = raw.replace(b"sk-ant-oat-ccproxy", b"sk-own-key")
    assert _refused(flow) is None


def test_a_gzip_chain_is_decoded_and_checked() -> None:
    flow = _with_body(b"")
    flow.request.headers["content-encoding"] = "gzip, gzip"
    flow.request.raw_content = gzip.compress(gzip.compress(b'{"api_key": "sk-ant-oat-ccproxy-anthropic"}'))
    assert _refused(flow) == 502


def _socket_flow(message: bytes) -> tflow.HTTPFlow:
    flow = tflow.twebsocketflow(messages=False)
    assert flow.websocket is not None
    flow.websocket.messages.append(websocket.WebSocketMessage(Opcode.TEXT, True, message))
    return flow


def test_a_websocket_message_carrying_the_sentinel_is_dropped_and_answered() -> None:
    flow = _socket_flow(b'{"type": "response.create", "api_key": "sk-ant-oat-ccproxy-openai"}')
    with taddons.context() as tctx:
        injected: list[tuple[object, ...]] = []
        tctx.master.commands.call = lambda *a: injected.append(a)  # type: ignore[method-assign]
        EgressSanitizer().websocket_message(flow)
    assert flow.websocket is not None and flow.websocket.messages[-1].dropped
    assert injected and injected[0][0] == "inject.websocket" and injected[0][2] is True
    assert b"ccproxy_sentinel_error" in injected[0][3]  # type: ignore[operator]
    clean = _socket_flow(b'{"type": "response.create", "input": "quote: sk-ant-oat-ccproxy-openai"}')
    EgressSanitizer().websocket_message(clean)
    assert clean.websocket is not None and not clean.websocket.messages[-1].dropped
