"""Which paths are a format's main endpoint, and how provider paths are filled."""

from __future__ import annotations

from ccproxy.wire.endpoints import Endpoint, main_endpoint, path_matches, provider_path


def test_main_endpoints() -> None:
    assert main_endpoint("/v1/messages?beta=true") == Endpoint("anthropic")
    assert main_endpoint("/anthropic/v1/messages") == Endpoint("anthropic")
    assert main_endpoint("/v1/chat/completions") == Endpoint("openai")
    assert main_endpoint("/v1/responses") == Endpoint("openai_responses")
    hit = main_endpoint("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert hit == Endpoint("gemini", "gemini-2.5-flash", "streamGenerateContent") and hit.streaming_path
    assert main_endpoint("/v1/models") is None


def test_provider_paths() -> None:
    gem = Endpoint("gemini", "g", "generateContent")
    assert provider_path("/v1beta/models/{model}:{method}", gem) == "/v1beta/models/g:generateContent"
    assert provider_path("/anthropic/v1/messages", gem) == "/anthropic/v1/messages"
    assert path_matches("/v1beta/models/{model}:{method}", "/v1beta/models/x:streamGenerateContent?alt=sse")
    assert not path_matches("/v1/messages", "/v1/messages/count_tokens")
