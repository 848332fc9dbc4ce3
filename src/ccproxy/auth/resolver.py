"""Resolve a provider's credential from its configured source; one resolver per daemon."""

from __future__ import annotations

import asyncio
import difflib
import time
from pathlib import Path

from ccproxy.auth.cache import CredentialCache, Resolved, read_output
from ccproxy.auth.oauth import OAuthSource, RefreshState, Renewal, token_path
from ccproxy.auth.sources import read_env, read_file, run_command
from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import CommandAuth, EnvAuth, FileAuth, OAuthAuth, ProviderConfig
from ccproxy.errors import AuthError


class CredentialResolver:
    """Look up credentials by provider name; `renew` is for the 401 replay path."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self._oauth: dict[str, OAuthSource] = {}
        self._files: dict[Path, RefreshState] = {}
        self.cache = CredentialCache()  # `command` sources only: env and file reads cost nothing

    def provider(self, name: str) -> ProviderConfig:
        try:
            return self.config.providers[name]
        except KeyError:
            known = ", ".join(sorted(self.config.providers)) or "none"
            close = difflib.get_close_matches(name, list(self.config.providers), n=1, cutoff=0.6)
            guess = f"did you mean {close[0]!r} (sk-ant-oat-ccproxy-{close[0]})? " if close else ""
            raise AuthError(
                f"unknown provider {name!r} in sentinel key sk-ant-oat-ccproxy-{name}: {guess}"
                f"configured: {known}; fix the key, or add providers.{name} to ccproxy.yaml"
            ) from None

    def oauth(self, name: str) -> OAuthSource | None:
        """The provider's OAuth source; providers sharing a token file share its refresh lock."""
        source = self.provider(name).auth
        if not isinstance(source, OAuthAuth):
            return None
        if name not in self._oauth:
            state = self._files.setdefault(token_path(source, self.config_dir), RefreshState())
            self._oauth[name] = OAuthSource(name, source, self.config_dir, state)
        return self._oauth[name]

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
            return await self.cache.get(name, source.cache_ttl, lambda: self._command(name, source))
        oauth = self.oauth(name)
        assert oauth is not None
        return (await oauth.renew(None)).token if force_refresh else await oauth.token()

    async def _command(self, name: str, source: CommandAuth) -> Resolved:
        token, expires_at = read_output(await run_command(name, source))
        return Resolved(token, time.time(), expires_at)

    async def renew(self, name: str, rejected: str) -> Renewal:
        """Re-resolve after the provider rejected `rejected`: OAuth refreshes, other sources are read again."""
        oauth = self.oauth(name)
        if oauth is not None:
            return await oauth.renew(rejected)
        self.cache.invalidate(name)  # the rejected value may be the cached one
        token = await self.resolve(name)
        return Renewal(token, "unchanged" if token == rejected else "reread")

    async def check(self, name: str) -> str:
        """'ok' or the error message: for `status`, never the value."""
        try:
            await self.resolve(name)
        except AuthError as exc:
            return str(exc)
        return "ok"

    async def check_all(self) -> dict[str, str]:
        """Every provider's check, run together so one slow command does not serialize the rest."""
        names = list(self.config.providers)
        results = await asyncio.gather(*(self.check(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def warm_up(self) -> dict[str, str]:
        """At start-up: refresh every OAuth token that is already within the margin of expiry."""
        names = [n for n, p in self.config.providers.items() if isinstance(p.auth, OAuthAuth)]
        results = await asyncio.gather(*(self.check(n) for n in names))
        return dict(zip(names, results, strict=True))
