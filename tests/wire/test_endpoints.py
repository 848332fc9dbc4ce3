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


def test_gemini_client_keeps_its_api_version() -> None:
    """google-genai with api_version v1 calls /v1/models/...; the upstream must see /v1, not /v1beta."""
    hit = main_endpoint("/v1/models/gemini-3-pro-preview:generateContent")
    assert hit is not None and hit.version == "v1"
    assert provider_path("/v1beta/models/{model}:{method}", hit) == "/v1/models/gemini-3-pro-preview:generateContent"
    assert provider_path("/proxy/v1beta/models/{model}:{method}", hit).startswith("/proxy/v1/models/")
    alpha = main_endpoint("/v1alpha/models/g:streamGenerateContent")
    assert alpha is not None and provider_path("/{version}/models/{model}:{method}", alpha) == (
        "/v1alpha/models/g:streamGenerateContent"
    )
    # another format's client reaching Gemini gets the template's version
    other = Endpoint("gemini", "g", "generateContent")
    assert provider_path("/v1beta/models/{model}:{method}", other) == "/v1beta/models/g:generateContent"
    assert provider_path("/{version}/models/{model}:{method}", other) == "/v1beta/models/g:generateContent"


def test_gemini_template_matches_every_api_version() -> None:
    template = "/v1beta/models/{model}:{method}"
    assert path_matches(template, "/v1/models/x:generateContent")
    assert path_matches(template, "/v1alpha/models/x:streamGenerateContent?alt=sse")
    assert not path_matches(template, "/v2/models/x:generateContent")
