"""Which key variables `ccproxy run` fills with a sentinel."""

from __future__ import annotations

from typing import Any

from ccproxy.auth.client_keys import client_key_env
from ccproxy.config.model import CCProxyConfig


def config(providers: dict[str, Any]) -> CCProxyConfig:
    return CCProxyConfig.model_validate({"providers": providers})


def entry(fmt: str, auth: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {"provider": fmt, "host": "h.test"}
    if auth:
        doc["auth"] = {"type": "env", "env": "X"}
    return doc


def test_unset_variables_get_the_sentinel_of_a_provider_with_a_credential() -> None:
    cfg = config({"claude": entry("anthropic"), "openai": entry("openai"), "codex": entry("openai_responses"),
                  "gemini": entry("gemini")})
    assert client_key_env(cfg, {}) == {
        "ANTHROPIC_API_KEY": "sk-ant-oat-ccproxy-claude",
        "OPENAI_API_KEY": "sk-ant-oat-ccproxy-openai",
        "CODEX_API_KEY": "sk-ant-oat-ccproxy-codex",
        "GEMINI_API_KEY": "sk-ant-oat-ccproxy-gemini",
    }


def test_keys_the_user_set_and_providers_without_auth_are_left_alone() -> None:
    cfg = config({"anthropic": entry("anthropic", auth=False), "gemini": entry("gemini")})
    env = client_key_env(cfg, {"GOOGLE_API_KEY": "AIza-mine", "ANTHROPIC_API_KEY": ""})
    assert env == {}  # Claude Code's own login stays in charge; google-genai reads GOOGLE_API_KEY first
