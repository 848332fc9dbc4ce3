from __future__ import annotations

import pytest

from ccproxy.config.shaping import DEFAULT_CONTENT_FIELDS
from ccproxy.errors import ConfigError
from ccproxy.shapes.profile import Strategy, resolve, shapes_dir
from tests.shapes.conftest import make_config


def test_defaults_follow_the_providers_wire_format() -> None:
    config = make_config()
    anthropic, gemini = resolve(config, "anthropic"), resolve(config, "gemini")
    assert anthropic.format == "anthropic" and "messages" in anthropic.content_fields
    assert "system" in anthropic.content_fields and "metadata" not in anthropic.content_fields
    assert gemini.content_fields == DEFAULT_CONTENT_FIELDS["gemini"] and "contents" in gemini.content_fields
    assert anthropic.matches("/v1/messages") and anthropic.matches("/v1/messages?beta=true")
    assert not anthropic.matches("/v1/messages/count_tokens")
    assert gemini.matches("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    assert anthropic.strategy("messages") == Strategy("replace")
    assert anthropic.shape_hooks == ["ccproxy.shapes.ids", "ccproxy.shapes.cache.cache_limit"]


def test_a_custom_auth_header_is_preserved_too() -> None:
    config = make_config()
    assert "x-custom-key" in resolve(config, "custom").preserve_headers
    assert {"x-api-key", "authorization", "host"} <= set(resolve(config, "anthropic").preserve_headers)


def test_configured_profile_overrides_defaults() -> None:
    config = make_config({
        "shapes_dir": "/tmp/elsewhere",
        "providers": {
            "anthropic": {
                "capture": {"path_pattern": "^/v1/messages"},
                "merge_strategies": {"system": "prepend_shape:2", "temperature": "drop"},
                "shape_hooks": [],
            },
            "mirror": {"format": "openai", "content_fields": ["messages", "model"]},
        },
    })
    profile = resolve(config, "anthropic")
    assert profile.strategy("system") == Strategy("prepend_shape", 2)
    assert str(profile.strategy("system")) == "prepend_shape:2" and profile.strategy("temperature").kind == "drop"
    assert profile.matches("/v1/messages/count_tokens") and profile.shape_hooks == []
    mirror = resolve(config, "mirror")
    assert (mirror.format, mirror.content_fields) == ("openai", ("messages", "model"))
    assert str(shapes_dir(config, __import__("pathlib").Path("/cfg"))) == "/tmp/elsewhere"


def test_unknown_provider_and_unknown_strategy_field_are_config_errors() -> None:
    config = make_config({"providers": {"anthropic": {"merge_strategies": {"sytem": "prepend_shape"}}}})
    with pytest.raises(ConfigError, match="sytem"):
        resolve(config, "anthropic")
    with pytest.raises(ConfigError, match="no provider named 'nobody'"):
        resolve(config, "nobody")


def test_strategy_parse_rejects_limits_on_replace_and_drop() -> None:
    assert Strategy.parse("append_shape:3") == Strategy("append_shape", 3)
    with pytest.raises(ConfigError):
        Strategy.parse("drop:1")
    with pytest.raises(ConfigError):
        Strategy.parse("merge")
