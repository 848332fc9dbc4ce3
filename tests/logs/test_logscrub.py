"""The log formatter keeps flow content and credentials out of every record, tracebacks included."""

from __future__ import annotations

import logging

from ccproxy.daemon.logscrub import ScrubbingFormatter, mask_credentials, scrub
from ccproxy.flowmeta import ClientRequest, FlowMeta

SECRET = "client-own-secret-7f3a9c"
PROMPT = "the prompt nobody else may read"


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, msg, args, exc_info)


def flow_meta() -> FlowMeta:
    headers = [("x-api-key", f"sk-live-{SECRET}"), ("x-client-token", SECRET)]
    body = f'{{"messages": [{{"role": "user", "content": "{PROMPT}"}}]}}'.encode()
    return FlowMeta(client_request=ClientRequest("POST", "http://h/v1/messages", "HTTP/1.1", headers, body))


def raise_with_repr() -> None:
    meta = flow_meta()  # a local: a traceback formatter that prints locals would leak it
    raise ValueError(f"unserializable object: {meta} ({type(meta)})")


def test_a_traceback_quoting_a_flow_keeps_type_and_frames_but_no_content() -> None:
    try:
        try:
            raise_with_repr()
        except ValueError as inner:
            raise RuntimeError(f"dump failed: {inner}") from inner
    except RuntimeError as exc:
        text = ScrubbingFormatter("%(levelname)s %(name)s: %(message)s").format(
            record("Uncaught exception GET /flows/dump (127.0.0.1)\n%r", flow_meta(), exc=exc)
        )
    assert SECRET not in text and PROMPT not in text and "x-api-key" not in text
    assert "Traceback (most recent call last):" in text and "in raise_with_repr" in text
    assert "ValueError: unserializable object: [flow content withheld]" in text
    assert "RuntimeError: dump failed: unserializable object: [flow content withheld]" in text
    assert "The above exception was the direct cause" in text
    assert text.startswith("ERROR tornado.application: Uncaught exception GET /flows/dump (127.0.0.1)")


def test_mitmproxy_style_messages_with_raw_bytes_are_cut() -> None:
    raw = f"POST /v1/messages HTTP/1.1\r\nx-api-key: {SECRET}\r\n".encode()
    text = ScrubbingFormatter("%(message)s").format(
        record("Client closed connection before completing request headers: %r", raw)
    )
    assert SECRET not in text and text.endswith("[flow content withheld]")


def test_credentials_and_sentinels_are_masked_wherever_they_stand() -> None:
    cases = {
        "x-api-key: sk-ant-api03-abcdefghijklmnop": "sk-ant-api03",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig": "eyJhbGci",
        '"refresh_token": "rt-1234567890"': "rt-1234567890",
        "GET /v1beta/models?key=AIzaSyA1234567890abcdefghijk HTTP/1.1": "AIzaSy",
        "client sent sk-ant-oat-ccproxy-anthropic": "sk-ant-oat-ccproxy-anthropic",
        "('x-client-secret', 'opaque-value-123')": "opaque-value-123",
        "cookie=session-abcdef123456": "session-abcdef123456",
    }
    for text, secret in cases.items():
        assert secret not in mask_credentials(text), text


def test_ordinary_messages_stay_readable() -> None:
    for text in (
        "MCP server http://127.0.0.1:1/mcp ready in 0.2s (token: generated)",
        "provider 'claude': access token refreshed (expires in 3600 s); wrote /x/credentials.json",
        "flow 1234abcd: provider 'anthropic' answered 401; re-resolving its credential",
        "WireGuard listener udp://127.0.0.1:5; keylogs: /c/tls.keylog, /c/wg.keylog",
        "usage: max_tokens: 8, input_tokens: 12",
    ):
        assert scrub(text) == text


def test_a_long_message_is_bounded() -> None:
    text = scrub("x" * 10_000, limit=100)
    assert len(text) < 200 and "9900 more characters cut" in text
