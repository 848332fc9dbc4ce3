"""Config and shapes shared by the shape tests: providers of every format, a typical Anthropic capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.shapes.envelope import Shape


def make_config(shaping: dict[str, Any] | None = None, **extra: Any) -> CCProxyConfig:
    return CCProxyConfig.model_validate({
        "providers": {
            "anthropic": {"provider": "anthropic", "host": "a.test", "auth": {"type": "env", "env": "T_A"}},
            "openai": {"provider": "openai", "host": "o.test", "auth": {"type": "env", "env": "T_O"}},
            "gemini": {"provider": "gemini", "host": "g.test"},
            "custom": {"provider": "anthropic", "host": "c.test",
                       "auth": {"type": "env", "env": "T_C", "header": "x-custom-key"}},
        },
        "shaping": shaping or {},
        **extra,
    })


@pytest.fixture
def config() -> CCProxyConfig:
    return make_config()


def capture_body() -> dict[str, Any]:
    """What a real Anthropic client sent: content plus the envelope fields (metadata, a beta flag)."""
    return {
        "model": "claude-captured",
        "max_tokens": 32000,
        "messages": [{"role": "user", "content": "captured prompt"}],
        "system": [
            {"type": "text", "text": "You are the captured client.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Captured user system prompt.", "cache_control": {"type": "ephemeral"}},
        ],
        "tools": [{"name": "captured_tool", "input_schema": {"type": "object"}}],
        "metadata": {"user_id": '{"device_id":"d1d2d3d4","session_id":"0b6f5c2e-1d2a-4e8f-9a3b-5c6d7e8f9a0b"}'},
        "stream": True,
    }


def envelope_shape(provider: str = "anthropic", **body: Any) -> Shape:
    """A saved envelope: identity headers in the client's order, body without content fields."""
    return Shape(
        provider=provider,
        method="POST",
        path="/v1/messages?beta=true",
        headers=[
            ("accept", "application/json"),
            ("anthropic-beta", "shape-beta-2025-01-01"),
            ("anthropic-version", "2023-06-01"),
            ("content-type", "application/json"),
            ("user-agent", "captured-cli/1.2.3"),
            ("x-app", "cli"),
            ("x-session-marker", "0b6f5c2e-1d2a-4e8f-9a3b-5c6d7e8f9a0b"),
        ],
        body=body or {
            "system": [{"type": "text", "text": "You are the captured client.",
                        "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": '{"device_id":"d1d2d3d4","session_id":"0b6f5c2e-1d2a-4e8f-9a3b-5c6d7e8f9a0b"}'},
        },
        header_order=["host", "accept", "x-api-key", "anthropic-beta", "anthropic-version", "content-type",
                      "user-agent", "x-app", "x-session-marker", "content-length"],
        key_order=["model", "messages", "system", "tools", "metadata", "max_tokens", "stream"],
        source={"flow_id": "f00dfeed-0000", "host": "a.test", "scheme": "https", "port": 443,
                "status_code": 200, "captured_at": 1_700_000_000.0},
    )


@pytest.fixture
def shapes_dir(tmp_path: Path) -> Path:
    return tmp_path / "shapes"
