"""The key variables `ccproxy run` gives a client that has none: the sentinel of a provider that has a credential.

An SDK refuses to start without a key (`anthropic.Anthropic()`: "Could not resolve authentication
method"), although behind ccproxy the key is the sentinel and the credential comes from ccproxy.yaml.
A key the user set is kept; a variable is set only when a provider of that wire format has `auth`, so a
client with its own login (Claude Code's OAuth) is not switched to a key ccproxy cannot back.
"""

from __future__ import annotations

from collections.abc import Mapping

from ccproxy.auth.sentinel import sentinel_for
from ccproxy.config.model import CCProxyConfig

#: Variable -> the wire formats whose provider answers it, preferred first; `also` are variables the
#: same SDK reads instead (google-genai takes GOOGLE_API_KEY over GEMINI_API_KEY).
KEY_VARS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ANTHROPIC_API_KEY": (("anthropic",), ("ANTHROPIC_AUTH_TOKEN",)),
    "OPENAI_API_KEY": (("openai", "openai_responses"), ()),
    "CODEX_API_KEY": (("openai_responses", "openai"), ("OPENAI_API_KEY",)),
    "GEMINI_API_KEY": (("gemini",), ("GOOGLE_API_KEY",)),
}


def provider_for(config: CCProxyConfig, formats: tuple[str, ...]) -> str | None:
    """The provider a client of these formats means: one named like the format, else the first of it."""
    with_auth = {n: p for n, p in config.providers.items() if p.auth is not None}
    for fmt in formats:
        named = with_auth.get(fmt)
        if named is not None and named.provider == fmt:
            return fmt
        first = next((n for n, p in with_auth.items() if p.provider == fmt), None)
        if first is not None:
            return first
    return None


def client_key_env(config: CCProxyConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Sentinels for the key variables the client's environment leaves unset (and no sibling sets)."""
    out: dict[str, str] = {}
    for var, (formats, also) in KEY_VARS.items():
        if environ.get(var) or any(environ.get(a) for a in also):
            continue
        name = provider_for(config, formats)
        if name is not None:
            out[var] = sentinel_for(name)
    return out
