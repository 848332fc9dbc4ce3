"""The `providers:` mapping of `ccproxy.yaml`: where each provider lives, its wire format and its credential source."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ccproxy.config.recorded import RecordedKeys

WireFormat = Literal["anthropic", "openai", "openai_responses", "gemini"]

#: Header each wire format's SDK sends its key in; `authorization` means `Bearer <token>`.
DEFAULT_AUTH_HEADER: dict[str, str] = {
    "anthropic": "x-api-key",
    "openai": "authorization",
    "openai_responses": "authorization",
    "gemini": "x-goog-api-key",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _AuthBase(_Model):
    header: str | None = Field(
        default=None, description="Header the credential goes in; `authorization` means `Bearer <token>`."
    )


class CommandAuth(_AuthBase):
    """Run a shell command and use its stdout (stripped) as the credential, kept for `cache_ttl` seconds.

    A JSON object on stdout may carry the token with its expiry (`{"token": ..., "expires_at": ...}`),
    which then decides instead of the TTL (ccproxy.auth.cache). `cache_ttl: 0` runs it on every request.
    """

    type: Literal["command"]
    command: str
    timeout: float = 10.0
    cache_ttl: float = Field(default=300.0, ge=0)


class FileAuth(_AuthBase):
    """Read the credential from a file (stripped), on every resolve."""

    type: Literal["file"]
    file_path: str = Field(alias="path")


class EnvAuth(_AuthBase):
    """Read the credential from an environment variable of the daemon."""

    type: Literal["env"]
    var: str = Field(alias="env")


class OAuthAuth(_AuthBase):
    """A JSON token file shared with the user's own tools, refreshed through `token_url`."""

    type: Literal["oauth"]
    file_path: str
    access_path: str = "access_token"
    refresh_path: str = "refresh_token"
    expiry_path: str | None = "expires_at"
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    token_body: Literal["form", "json"] = Field(
        default="form", description="How the refresh request is encoded: RFC 6749 form fields, or JSON."
    )


AuthSource = Annotated[CommandAuth | FileAuth | EnvAuth | OAuthAuth, Field(discriminator="type")]


class ProviderConfig(RecordedKeys):
    """Where a provider lives, which wire format it speaks and how to authenticate.

    `provider: recorded` answers from recorded flows in the client's own format (keys: RecordedKeys)."""

    provider: WireFormat | Literal["recorded"] = "anthropic"
    host: str = ""
    path: str = ""
    scheme: Literal["http", "https"] = "https"
    auth: AuthSource | None = None

    @model_validator(mode="after")
    def _default_path(self) -> ProviderConfig:
        if self.provider == "recorded" or self.from_ is not None:
            return _check_recorded(self)
        if not self.host:
            raise ValueError("host is required (e.g. api.anthropic.com)")
        if not self.path:
            self.path = {
                "anthropic": "/v1/messages",
                "openai": "/v1/chat/completions",
                "openai_responses": "/v1/responses",
                "gemini": "/v1beta/models/{model}:{method}",
            }[self.provider]
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/': {self.path!r}")
        return self

    @property
    def auth_header(self) -> str:
        header = self.auth.header if self.auth and self.auth.header else None
        return (header or DEFAULT_AUTH_HEADER.get(self.provider, "x-api-key")).lower()

    @property
    def hostname(self) -> str:
        return self.host.rsplit(":", 1)[0] if self.host.count(":") == 1 else self.host

    @property
    def port(self) -> int:
        if self.host.count(":") == 1:
            return int(self.host.rsplit(":", 1)[1])
        return 443 if self.scheme == "https" else 80


def _check_recorded(provider: ProviderConfig) -> ProviderConfig:
    if provider.provider != "recorded":
        raise ValueError("`from` is only for `provider: recorded`")
    if not provider.from_:
        raise ValueError("a recorded provider needs `from`: an exported recording file or a jq filter over the store")
    provider.host, provider.scheme, provider.path = provider.host or "127.0.0.1", "http", provider.path or "/"
    return provider


#: The embedded providers as YAML would spell them: public APIs with the credentials their own SDKs read.
#: A `providers.<name>` entry of ccproxy.yaml with one of these names is merged over it.
BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "anthropic": {"provider": "anthropic", "host": "api.anthropic.com", "auth": {"type": "env", "env": "ANTHROPIC_API_KEY"}},
    "openai": {"provider": "openai", "host": "api.openai.com", "auth": {"type": "env", "env": "OPENAI_API_KEY"}},
    "gemini": {
        "provider": "gemini",
        "host": "generativelanguage.googleapis.com",
        "auth": {"type": "env", "env": "GEMINI_API_KEY"},
    },
}


def default_providers() -> dict[str, ProviderConfig]:
    """The embedded providers, used when ccproxy.yaml has no `providers:` mapping."""
    return {name: ProviderConfig.model_validate(doc) for name, doc in BUILTIN_PROVIDERS.items()}
