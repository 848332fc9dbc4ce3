from __future__ import annotations

from mitmproxy.test import tflow

from ccproxy.shapes.apply import merge_query, ordered, stamp


def test_stamp_keeps_credential_and_host_takes_the_rest_from_the_shape_in_capture_order() -> None:
    flow = tflow.tflow()
    req = flow.request
    req.path = "/v1/messages"
    req.headers.clear()
    req.headers["host"] = "provider.test"
    req.headers["x-api-key"] = "real-key"
    req.headers["user-agent"] = "client/9"
    req.headers["x-client-only"] = "1"
    shape_headers = [("user-agent", "captured/1"), ("anthropic-beta", "b1"), ("content-length", "3")]
    order = ["host", "x-api-key", "anthropic-beta", "content-length", "user-agent"]
    done = stamp(req, shape_headers, b'{"a":1}', "beta=true", ["x-api-key", "host"], order)
    assert list(req.headers.items(multi=True)) == [
        ("host", "provider.test"),
        ("x-api-key", "real-key"),
        ("anthropic-beta", "b1"),
        ("content-length", "7"),
        ("user-agent", "captured/1"),
    ]
    assert req.content == b'{"a":1}' and req.path == "/v1/messages?beta=true"
    assert done.preserved == ["host", "x-api-key"] and done.from_shape == ["user-agent", "anthropic-beta"]
    assert done.query_added == ["beta"]


def test_query_merge_adds_only_what_the_request_lacks() -> None:
    assert merge_query("/m:gen?alt=sse", "alt=json&beta=true") == ("/m:gen?alt=sse&beta=true", ["beta"])
    assert merge_query("/v1/messages", "") == ("/v1/messages", [])
    assert merge_query("/v1/messages?beta=true", "beta=true") == ("/v1/messages?beta=true", [])


def test_unknown_headers_go_last_in_their_own_order() -> None:
    fields = [("b", "1"), ("z", "2"), ("a", "3"), ("y", "4")]
    assert ordered(fields, ["a", "b"]) == [("a", "3"), ("b", "1"), ("z", "2"), ("y", "4")]
