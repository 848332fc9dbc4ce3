"""The router addon on mitmproxy test flows: decisions, rewrites and answers translated back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.addons.destination import parse_dest_host
from ccproxy.addons.router import Router
from ccproxy.config.model import CCProxyConfig
from ccproxy.daemon.chain import build_services
from ccproxy.flowmeta import get_meta
from ccproxy.wire.neutral import ClientOptions
from ccproxy.wire.translate import StreamTranslator

FAKE = "127.0.0.1:9999"
KEYS = {"A_KEY": "real-anthropic", "O_KEY": "real-openai", "G_KEY": "real-gemini"}


def make_config(transforms: list[dict[str, Any]] | None = None) -> CCProxyConfig:
    def provider(fmt: str, var: str | None, **extra: Any) -> dict[str, Any]:
        auth = {"auth": {"type": "env", "env": var}} if var else {}
        return {"provider": fmt, "host": FAKE, "scheme": "http", **auth, **extra}

    return CCProxyConfig.model_validate(
        {
            "providers": {
                "anthropic": provider("anthropic", "A_KEY"),
                "openai": provider("openai", "O_KEY"),
                "responses": provider("openai_responses", "O_KEY"),
                "gemini": provider("gemini", "G_KEY"),
                "deepseek": provider(
                    "anthropic", None, host="api.deepseek.com", scheme="https", path="/anthropic/v1/messages"
                ),
                "broken": provider("openai", "MISSING_KEY"),
            },
            "inspector": {"transforms": transforms or []},
        }
    )


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in KEYS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("MISSING_KEY", raising=False)


def router(transforms: list[dict[str, Any]] | None = None) -> Router:
    config = make_config(transforms)
    return Router(config, build_services(config, Path(".")))


def flow(
    path: str,
    body: dict[str, Any] | None = None,
    *,
    source: str = "reverse",
    headers: dict[str, str] | None = None,
    provider: str | None = None,
) -> http.HTTPFlow:
    f = tflow.tflow()
    f.request = http.Request.make(
        "POST",
        f"http://unrouted.ccproxy.invalid{path}",
        json.dumps(body or {}),
        {"host": "127.0.0.1:4000", "content-type": "application/json", **(headers or {})},
    )
    f.request.headers["host"] = "127.0.0.1:4000"  # reverse mode keeps the client's Host header
    meta = get_meta(f)
    meta.source = source  # type: ignore[assignment]
    if provider:  # what inject_auth leaves behind for a sentinel key
        meta.provider, meta.auth_injected = provider, True
    return f


def run(r: Router, f: http.HTTPFlow) -> http.HTTPFlow:
    asyncio.run(r.request(f))
    return f


CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def test_sentinel_same_format_is_a_route() -> None:
    f = run(router(), flow("/v1/messages?beta=true", MESSAGES, provider="anthropic"))
    info = get_meta(f).transform
    assert info is not None and (info.mode, info.reason, info.provider) == ("route", "sentinel", "anthropic")
    assert f.request.url == f"http://{FAKE}/v1/messages?beta=true"
    assert json.loads(f.request.content or b"") == MESSAGES


def test_provider_path_match_and_501_without_any_route() -> None:
    f = run(router(), flow("/v1/chat/completions", CHAT))
    assert get_meta(f).transform.reason == "path"  # type: ignore[union-attr]
    lost = run(router(), flow("/v1/unknown", CHAT))
    assert lost.response is not None and lost.response.status_code == 501
    assert "ccproxy_not_routed" in lost.response.text  # type: ignore[operator]


def test_unrouted_main_endpoint_keeps_the_daemon_501() -> None:
    config = make_config()
    config.providers.pop("openai")
    config.providers.pop("broken")
    f = flow("/v1/chat/completions", CHAT)
    asyncio.run(Router(config, build_services(config, Path("."))).request(f))
    assert f.response is not None and f.response.status_code == 501
    error = json.loads(f.response.content or b"")["error"]
    assert error["type"] == "ccproxy_not_routed" and "inspector.transforms" in error["message"]


def test_wireguard_flow_without_rule_keeps_its_destination() -> None:
    f = flow("/v1/messages", MESSAGES, source="wireguard")
    f.request.host, f.request.port, f.request.scheme = "api.anthropic.com", 443, "https"
    run(router(), f)
    info = get_meta(f).transform
    assert info is not None and (info.mode, info.reason) == ("passthrough", "original")
    assert f.request.pretty_host == "api.anthropic.com" and f.response is None


def test_sentinel_with_another_format_transforms_automatically() -> None:
    f = run(
        router(),
        flow(
            "/v1/chat/completions",
            {**CHAT, "stream": True},
            headers={"x-api-key": "real-anthropic", "openai-organization": "org"},
            provider="anthropic",
        ),
    )
    info = get_meta(f).transform
    assert info is not None and (info.mode, info.reason, info.from_format, info.to_format) == (
        "transform",
        "sentinel",
        "openai",
        "anthropic",
    )
    assert info.stream and info.client_options["include_usage"] is False
    assert f.request.path == "/v1/messages"
    assert (
        f.request.headers["anthropic-version"] == "2023-06-01"
        and "openai-organization" not in f.request.headers
    )
    body = json.loads(f.request.content or b"")
    assert (
        body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        and body["stream"] is True
    )
    assert "max_tokens not given" in get_meta(f).warnings[0]


def test_redirect_rule_swaps_destination_and_credential_not_body() -> None:
    r = router(
        [
            {
                "match_path": "^/v1/messages$",
                "action": "redirect",
                "dest_provider": "deepseek",
                "dest_model": "deepseek-chat",
            }
        ]
    )
    f = run(r, flow("/v1/messages", MESSAGES, headers={"x-api-key": "sk-users-own"}))
    assert f.request.url == "https://api.deepseek.com/anthropic/v1/messages"
    assert f.request.headers["host"] == "api.deepseek.com"
    assert (
        f.request.headers["x-api-key"] == "sk-users-own"
    )  # deepseek has no auth configured: the client's key goes on
    assert json.loads(f.request.content or b"") == {**MESSAGES, "model": "deepseek-chat"}
    info = get_meta(f).transform
    assert info is not None and (info.mode, info.reason, info.rule, info.model) == (
        "redirect",
        "rule[0]",
        0,
        "deepseek-chat",
    )


def test_redirect_to_dest_host_with_scheme_and_path() -> None:
    r = router(
        [
            {
                "match_host": "^127\\.0\\.0\\.1",
                "dest_host": "http://10.1.2.3:8080",
                "dest_path": "/proxy/messages",
            }
        ]
    )
    f = run(r, flow("/v1/messages?x=1", MESSAGES))
    assert f.request.url == "http://10.1.2.3:8080/proxy/messages?x=1"


def test_transform_rule_to_gemini_stream() -> None:
    r = router(
        [
            {
                "match_model": "^gpt-",
                "action": "transform",
                "dest_provider": "gemini",
                "dest_model": "gemini-2.5-flash",
            }
        ]
    )
    f = run(
        r, flow("/v1/chat/completions", {**CHAT, "stream": True}, headers={"authorization": "Bearer sk-own"})
    )
    assert f.request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert f.request.headers["x-goog-api-key"] == "real-gemini" and "authorization" not in f.request.headers
    assert json.loads(f.request.content or b"")["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert get_meta(f).auth_injected


def test_first_matching_rule_wins_and_forwarded_host_counts() -> None:
    rules = [
        {"match_host": "^api\\.openai\\.com$", "action": "transform", "dest_provider": "anthropic"},
        {"match_path": ".*", "action": "passthrough"},
    ]
    f = run(router(rules), flow("/v1/chat/completions", CHAT, headers={"x-forwarded-host": "api.openai.com"}))
    assert get_meta(f).transform.reason == "rule[0]"  # type: ignore[union-attr]
    g = run(router(rules), flow("/v1/chat/completions", CHAT))
    info = get_meta(g).transform
    assert info is not None and (info.mode, info.reason, info.rule) == ("passthrough", "rule[1]", 1)
    assert json.loads(g.request.content or b"") == CHAT  # passthrough never rewrites the body


def test_passthrough_rule_does_not_transform_a_sentinel_flow() -> None:
    f = run(router([{"action": "passthrough"}]), flow("/v1/chat/completions", CHAT, provider="anthropic"))
    assert f.request.path == "/v1/chat/completions" and get_meta(f).transform.mode == "passthrough"  # type: ignore[union-attr]


def test_a_replayed_flow_is_not_routed_twice() -> None:
    r = router()
    f = run(r, flow("/v1/chat/completions", CHAT, provider="anthropic"))
    once = f.request.content
    run(r, f)
    assert f.request.content == once


def test_unreadable_request_is_answered_in_the_client_format() -> None:
    f = flow("/v1/chat/completions", provider="anthropic")
    f.request.content = b"{not json"
    run(router(), f)
    assert f.response is not None and f.response.status_code == 400
    assert "could not read" in json.loads(f.response.content or b"")["error"]["message"]


def test_missing_destination_credential_is_answered_in_the_client_format() -> None:
    r = router([{"action": "transform", "dest_provider": "broken"}])
    f = run(r, flow("/v1/messages", MESSAGES))
    assert f.response is not None and f.response.status_code == 400  # ccproxy's own credential failure: not retried
    assert json.loads(f.response.content or b"")["type"] == "error"


def transformed(path: str, body: dict[str, Any], provider: str) -> tuple[Router, http.HTTPFlow]:
    r = router()
    return r, run(r, flow(path, body, provider=provider))


def test_json_answer_and_errors_are_translated_back() -> None:
    r, f = transformed("/v1/chat/completions", CHAT, "anthropic")
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    f.response = http.Response.make(200, json.dumps(answer), {"content-type": "application/json"})
    asyncio.run(r.response(f))
    doc = json.loads(f.response.content or b"")
    assert doc["object"] == "chat.completion" and doc["choices"][0]["message"]["content"] == "yo"
    r, g = transformed("/v1/chat/completions", CHAT, "anthropic")
    err = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
    g.response = http.Response.make(429, json.dumps(err), {"content-type": "application/json"})
    asyncio.run(r.response(g))
    assert (
        g.response.status_code == 429 and json.loads(g.response.content or b"")["error"]["message"] == "slow"
    )


def test_garbage_answer_becomes_a_502_in_the_client_format() -> None:
    r, f = transformed("/v1/messages", MESSAGES, "openai")
    f.response = http.Response.make(200, b"<html>", {"content-type": "text/html"})
    asyncio.run(r.response(f))
    assert (
        f.response.status_code == 502
        and json.loads(f.response.content or b"")["error"]["type"] == "api_error"
    )
    assert "could not translate" in (get_meta(f).error or "")


def test_gemini_client_without_sse_gets_a_json_array() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    r, f = transformed("/v1beta/models/claude-x:streamGenerateContent", body, "anthropic")
    assert json.loads(f.request.content or b"").get("stream") is None
    answer = {
        "id": "msg_1",
        "model": "claude-x",
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "end_turn",
        "usage": {},
    }
    f.response = http.Response.make(200, json.dumps(answer), {"content-type": "application/json"})
    asyncio.run(r.response(f))
    doc = json.loads(f.response.content or b"")
    assert isinstance(doc, list) and doc[0]["candidates"][0]["content"]["parts"] == [{"text": "yo"}]


def test_streamed_answer_gets_a_translator_and_client_headers() -> None:
    r, f = transformed("/v1/chat/completions", {**CHAT, "stream": True}, "anthropic")
    f.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "content-length": "10"})
    r.responseheaders(f)
    filters = get_meta(f).stream_filters
    assert len(filters) == 1 and isinstance(filters[0], StreamTranslator)
    assert "content-length" not in f.response.headers and f.response.headers["transfer-encoding"] == "chunked"
    out = filters[0](
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"c","usage":{}}}\n\n'
    )
    assert out.startswith(b'data: {"id":"chatcmpl-1"')
    err, g = transformed("/v1/chat/completions", {**CHAT, "stream": True}, "anthropic")
    g.response = http.Response.make(500, b"{}", {"content-type": "text/event-stream"})
    err.responseheaders(g)
    assert get_meta(g).stream_filters == []


def test_error_hook_without_a_live_connection_is_harmless() -> None:
    r, f = transformed("/v1/chat/completions", {**CHAT, "stream": True}, "anthropic")
    f.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    r.responseheaders(f)
    f.error = None
    r.error(f)  # no mitmproxy master here: nothing to write to, nothing raised
    translator = get_meta(f).stream_filters[0]
    assert isinstance(translator, StreamTranslator) and translator.closed


def test_parse_dest_host() -> None:
    assert parse_dest_host("api.x.com", "https") == ("https", "api.x.com", 443)
    assert parse_dest_host("h:81", "http") == ("http", "h", 81)
    assert parse_dest_host("http://h/", "https") == ("http", "h", 80)


def test_client_options_round_trip_through_the_flow_record() -> None:
    _, f = transformed(
        "/v1/chat/completions",
        {**CHAT, "stream": True, "stream_options": {"include_usage": True}},
        "anthropic",
    )
    info = get_meta(f).transform
    assert info is not None and ClientOptions(**info.client_options).include_usage
    assert get_meta(f).to_json()["transform"]["client_options"] == {
        "include_usage": True,
        "json_array": False,
    }


def test_a_sentinel_credential_never_follows_a_redirect_to_another_provider() -> None:
    r = router([{"match_model": "^claude", "dest_provider": "openai"}])
    f = run(r, flow("/v1/messages", MESSAGES, headers={"x-api-key": "real-anthropic"}, provider="anthropic"))
    assert "x-api-key" not in f.request.headers and f.request.headers["authorization"] == "Bearer real-openai"
    assert get_meta(f).provider == "openai"
    to_keyless = router([{"match_model": "^claude", "dest_provider": "deepseek"}])
    g = run(
        to_keyless,
        flow("/v1/messages", MESSAGES, headers={"x-api-key": "real-anthropic"}, provider="anthropic"),
    )
    assert "x-api-key" not in g.request.headers and "no auth" in get_meta(g).warnings[0]


def test_transform_rule_between_same_formats_is_a_redirect_that_renames_the_model() -> None:
    r = router([{"action": "transform", "dest_provider": "deepseek", "dest_model": "deepseek-chat"}])
    f = run(r, flow("/v1/messages", MESSAGES))
    info = get_meta(f).transform
    assert info is not None and info.mode == "transform" and not info.translates
    assert f.request.url == "https://api.deepseek.com/anthropic/v1/messages"
    assert json.loads(f.request.content or b"")["model"] == "deepseek-chat"
    other = run(r, flow("/v1/models", {}))
    assert "no main endpoint" in get_meta(other).warnings[0]
