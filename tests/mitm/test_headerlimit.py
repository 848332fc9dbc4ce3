from __future__ import annotations

from mitmproxy.net.http import http1

from ccproxy.mitm.headerlimit import head_complete_within, partial_head


def test_a_head_counts_as_complete_only_when_its_blank_line_is_within_the_limit() -> None:
    head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert head_complete_within(head + b"x" * 5000, len(head))
    assert head_complete_within(b"GET / HTTP/1.1\nHost: h\n\n", 100)
    assert not head_complete_within(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 1000)


def test_the_partial_head_keeps_the_request_line_and_whole_header_lines() -> None:
    data = b"POST /v1/messages HTTP/1.1\r\nHost: h\r\nx-api-key: k\r\nX-Big: " + b"a" * 5000
    lines = partial_head(data, 1000)
    assert lines == [b"POST /v1/messages HTTP/1.1", b"Host: h", b"x-api-key: k"]
    request = http1.read_request_head(lines)
    assert (request.method, request.path, request.headers.get("x-big")) == ("POST", "/v1/messages", None)
