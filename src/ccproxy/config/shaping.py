"""The `shaping:` mapping: where shapes live and, per provider, how one is captured and replayed.

Every key has a generic default derived from the provider's wire format, so `ccproxy shapes save
anthropic` works with no `shaping:` block at all. Nothing here carries a captured envelope: the
envelope always comes from the user's own capture (`ccproxy shapes save`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Body keys that carry a request's live content, per wire format (the rest is envelope).
DEFAULT_CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    "anthropic": (
        "model", "messages", "system", "tools", "tool_choice", "thinking", "stream", "max_tokens",
        "temperature", "top_p", "top_k", "stop_sequences",
    ),
    "openai": (
        "model", "messages", "tools", "tool_choice", "stream", "stream_options", "max_tokens",
        "max_completion_tokens", "temperature", "top_p", "stop", "n", "response_format",
        "parallel_tool_calls", "reasoning_effort", "seed", "presence_penalty", "frequency_penalty",
    ),
    "openai_responses": (
        "model", "input", "instructions", "tools", "tool_choice", "stream", "max_output_tokens",
        "temperature", "top_p", "reasoning", "text", "previous_response_id", "parallel_tool_calls",
    ),
    "gemini": (
        "contents", "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config",
        "generationConfig", "generation_config", "safetySettings", "safety_settings", "cachedContent",
        "cached_content",
    ),
}

#: Which request paths a capture may come from, per wire format (matched against the path without query).
DEFAULT_PATH_PATTERN: dict[str, str] = {
    "anthropic": r"/v1/messages$",
    "openai": r"/chat/completions$",
    "openai_responses": r"/responses$",
    "gemini": r"/models/[^/:]+:(stream)?[gG]enerate[cC]ontent$",
}

CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key", "proxy-authorization")
#: Headers the shape never supplies: credentials, cookies, and what the connection decides.
DEFAULT_STRIP_HEADERS = (
    *CREDENTIAL_HEADERS, "cookie", "host", "content-length", "transfer-encoding", "connection",
)
#: Headers of the outgoing flow the shape never overwrites: the credential ccproxy put in, the host the
#: router chose, and the live connection's own `connection` header.
DEFAULT_PRESERVE_HEADERS = (*CREDENTIAL_HEADERS[:4], "host", "connection")

DEFAULT_SHAPE_HOOKS: tuple[str, ...] = ("ccproxy.shapes.ids", "ccproxy.shapes.cache.cache_limit")

_STRATEGY = re.compile(r"^(replace|drop|(prepend_shape|append_shape)(:[0-9]+)?)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CaptureConfig(_Model):
    #: Regex searched in the request path (query left out); unset: the wire format's main endpoint.
    path_pattern: str | None = None

    @field_validator("path_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value


class ShapingProfile(_Model):
    """One provider's shaping: what is content (from the live request) and what is envelope (from the shape)."""

    format: str | None = Field(
        default=None, description="Wire format, when the profile's name is not a key of `providers`."
    )
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    content_fields: list[str] | None = None
    merge_strategies: dict[str, str] = Field(default_factory=dict)
    strip_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_STRIP_HEADERS))
    preserve_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_PRESERVE_HEADERS))
    shape_hooks: list[str | dict[str, Any]] | None = None

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and value not in DEFAULT_CONTENT_FIELDS:
            raise ValueError(f"unknown wire format {value!r}; use one of {', '.join(DEFAULT_CONTENT_FIELDS)}")
        return value

    @field_validator("merge_strategies")
    @classmethod
    def _strategies(cls, value: dict[str, str]) -> dict[str, str]:
        for name, strategy in value.items():
            if not _STRATEGY.match(strategy):
                raise ValueError(
                    f"{name}: unknown merge strategy {strategy!r}; use replace, drop, prepend_shape[:N] "
                    "or append_shape[:N]"
                )
        return value

    @field_validator("strip_headers", "preserve_headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [h.strip().lower() for h in value]

    @model_validator(mode="after")
    def _strategies_name_fields(self) -> ShapingProfile:
        if self.content_fields is not None:
            extra = set(self.merge_strategies) - set(self.content_fields)
            if extra:
                raise ValueError(
                    f"merge_strategies names {', '.join(sorted(extra))}, which content_fields does not list"
                )
        return self


class ShapingConfig(_Model):
    #: Relative paths are inside the config dir.
    shapes_dir: str = "shapes"
    providers: dict[str, ShapingProfile] = Field(default_factory=dict)
