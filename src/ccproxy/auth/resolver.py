"""Resolve a provider's credential from its configured source; one resolver per daemon."""

from __future__ import annotations

from pathlib import Path

from ccproxy.auth.sources import read_env, read_file, run_command
from ccproxy.config.model import CCProxyConfig, CommandAuth, EnvAuth, FileAuth, ProviderConfig
from ccproxy.errors import AuthError


class CredentialResolver:
    """Look up credentials by provider name; `force_refresh` is for the 401 replay path."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir

    def provider(self, name: str) -> ProviderConfig:
        try:
            return self.config.providers[name]
        except KeyError:
            known = ", ".join(sorted(self.config.providers)) or "none"
            raise AuthError(
                f"unknown provider {name!r} in sentinel key sk-ant-oat-ccproxy-{name} "
                f"(configured: {known}); add providers.{name} to ccproxy.yaml"
            ) from None

    async def resolve(self, name: str, force_refresh: bool = False) -> str:
        provider = self.provider(name)
        source = provider.auth
        if source is None:
            raise AuthError(f"provider {name!r} has no auth configured; add providers.{name}.auth")
        if isinstance(source, EnvAuth):
            return read_env(name, source)
        if isinstance(source, FileAuth):
            return read_file(name, source, self.config_dir)
        if isinstance(source, CommandAuth):
            return await run_command(name, source)
        raise AuthError(f"provider {name!r}: auth type {source.type!r} is not supported yet")

    async def check(self, name: str) -> str:
        """'ok' or the error message: for `status`, never the value."""
        try:
            await self.resolve(name)
        except AuthError as exc:
            return str(exc)
        return "ok"
