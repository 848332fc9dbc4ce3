from __future__ import annotations

import json

from ccproxy.store.redact import (
    MASK,
    is_sensitive_header,
    mask_value,
    redact_body,
    redact_header,
    redact_headers,
    redact_path,
    redact_url,
)


def test_credential_headers_are_masked_and_others_kept() -> None:
    headers = [
        ["x-api-key", "sk-ant-api03-secret"],
        ["authorization", "Bearer sk-proj-secret"],
        ["x-goog-api-key", "AIzaSecret"],
        ["proxy-authorization", "Basic dXNlcjpwYXNz"],
        ["x-amz-security-token", "FwoGZXIvYXdzE"],
        ["content-type", "application/json"],
        ["anthropic-ratelimit-tokens-remaining", "1000"],
        ["x-ratelimit-remaining-tokens", "99"],
    ]
    out = dict((k, v) for k, v in redact_headers(headers))
    assert out["x-api-key"] == MASK
    assert out["authorization"] == f"Bearer {MASK}"
    assert out["x-goog-api-key"] == MASK
    assert out["proxy-authorization"] == f"Basic {MASK}"
    assert out["x-amz-security-token"] == MASK
    assert out["content-type"] == "application/json"
    assert out["anthropic-ratelimit-tokens-remaining"] == "1000"
    assert out["x-ratelimit-remaining-tokens"] == "99"
    assert "secret" not in json.dumps(out).lower()


def test_sentinel_keys_are_placeholders_and_stay_readable() -> None:
    assert mask_value("sk-ant-oat-ccproxy-anthropic") == "sk-ant-oat-ccproxy-anthropic"
    assert redact_header("authorization", "Bearer sk-ant-oat-ccproxy-openai") == "Bearer sk-ant-oat-ccproxy-openai"


def test_cookies_keep_names_and_lose_values() -> None:
    assert redact_header("cookie", "session=abc; theme=dark") == f"session={MASK}; theme={MASK}"
    masked = redact_header("set-cookie", "sid=xyz; Path=/; HttpOnly")
    assert masked == f"sid={MASK}; Path=/; HttpOnly"
    assert is_sensitive_header("Cookie") and is_sensitive_header("Set-Cookie")


def test_urls_lose_key_parameters_and_userinfo() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key=AIzaSecret&alt=sse"
    out = redact_url(url)
    assert "AIzaSecret" not in out and "alt=sse" in out and "key=%5BREDACTED%5D" not in out
    assert "key=[REDACTED]" in out
    assert redact_url("https://user:pw@example.com/x") == f"https://{MASK}@example.com/x"
    assert redact_url("http://127.0.0.1:4000/v1/messages") == "http://127.0.0.1:4000/v1/messages"
    assert redact_path("/v1/x?access_token=t0k&b=2") == "/v1/x?access_token=[REDACTED]&b=2"
    assert redact_path("/v1/messages") == "/v1/messages"


def test_oauth_tokens_in_json_and_form_bodies() -> None:
    body = json.dumps({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600,
                       "nested": [{"client_secret": "cs"}], "messages": [{"content": "token talk"}]}).encode()
    out = json.loads(redact_body(body, "application/json"))
    assert out["access_token"] == MASK and out["refresh_token"] == MASK
    assert out["nested"][0]["client_secret"] == MASK
    assert out["expires_in"] == 3600 and out["messages"][0]["content"] == "token talk"
    form = b"grant_type=refresh_token&refresh_token=rt-2&client_id=abc"
    masked = redact_body(form, "application/x-www-form-urlencoded")
    assert b"rt-2" not in masked and b"client_id=abc" in masked and b"grant_type=refresh_token" in masked


def test_bodies_without_credentials_come_back_byte_identical() -> None:
    body = b'{"model":"x",  "messages":[]}'
    assert redact_body(body, "application/json") is body
    assert redact_body(b"data: {}\n\n", "text/event-stream") == b"data: {}\n\n"


def test_raw_bodies_are_masked_in_place_and_keep_their_layout() -> None:
    from ccproxy.store.redact import redact_raw

    body = b'{"grant_type":"refresh_token",\n  "refresh_token" : "rt-secret-1","nested":{"access_token":"at-2"},' \
           b'"api_key":"sk-ant-oat-ccproxy-x","note":"refresh_token"}'
    masked = redact_raw(body, "application/json")
    assert masked == (b'{"grant_type":"refresh_token",\n  "refresh_token" : "[REDACTED]","nested":'
                      b'{"access_token":"[REDACTED]"},"api_key":"sk-ant-oat-ccproxy-x","note":"refresh_token"}')
    sse = b'event: token\ndata: {"type":"session","id_token":"idt-3"}\n\n'
    assert redact_raw(sse, "text/event-stream") == b'event: token\ndata: {"type":"session","id_token":"[REDACTED]"}\n\n'
    form = b"grant_type=refresh_token&refresh_token=rt%2Fsecret&client_id=cli"
    assert redact_raw(form, "application/x-www-form-urlencoded") == \
        b"grant_type=refresh_token&refresh_token=[REDACTED]&client_id=cli"
    plain = b'{"model": "m", "max_tokens": 8}'
    assert redact_raw(plain, "application/json") is plain
