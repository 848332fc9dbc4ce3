from __future__ import annotations

from ccproxy.shapes import sanitize


def test_headers_lose_credentials_cookies_ccproxy_and_connection_fields_keeping_order() -> None:
    headers = [
        ("Host", "api.test"),
        ("Accept", "application/json"),
        ("X-Api-Key", "[REDACTED]"),
        ("Authorization", "Bearer [REDACTED]"),
        ("anthropic-beta", "a,b"),
        ("Cookie", "sid=[REDACTED]"),
        ("x-ccproxy-hooks", "-shape"),
        ("x-goog-api-key", "[REDACTED]"),
        ("x-amz-security-token", "abc"),
        ("x-custom", "Bearer abc"),
        ("content-length", "42"),
        ("user-agent", "cli/1"),
        ("x-forwarded", "sk-ant-oat-ccproxy-anthropic"),
    ]
    kept, removed = sanitize.clean_headers(headers)
    assert kept == [("Accept", "application/json"), ("anthropic-beta", "a,b"), ("user-agent", "cli/1")]
    assert removed == ["host", "x-api-key", "authorization", "cookie", "x-ccproxy-hooks", "x-goog-api-key",
                       "x-amz-security-token", "x-custom", "content-length", "x-forwarded"]
    assert sanitize.header_problem("x-ratelimit-remaining-tokens", "5") is None


def test_query_credentials_go_and_the_rest_stays() -> None:
    assert sanitize.clean_path("/v1/m:gen?alt=sse&key=[REDACTED]") == ("/v1/m:gen?alt=sse", ["key"])
    assert sanitize.clean_path("/v1/messages?beta=true") == ("/v1/messages?beta=true", [])
    assert sanitize.clean_path("/x?access_token=abc") == ("/x", ["access_token"])
    assert sanitize.path_problems("/x?beta=true&api_key=z") == ["api_key"]


def test_body_credentials_by_name_and_sentinels_anywhere_are_removed() -> None:
    body = {
        "metadata": {"user_id": "u1", "api_key": "secret"},
        "extra": [{"note": "sk-ant-oat-ccproxy-anthropic"}, {"ok": 1}],
        "max_tokens": 5,
        "password": "hunter2",
    }
    assert sanitize.body_problems(body) == ["metadata.api_key", "extra.0.note", "password"]
    removed = sanitize.clean_body(body)
    assert removed == ["metadata.api_key", "extra.0.note", "password"]
    assert body == {"metadata": {"user_id": "u1"}, "extra": [{}, {"ok": 1}], "max_tokens": 5}
    assert sanitize.body_problems(body) == []
