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
