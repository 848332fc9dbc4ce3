"""The `oauth` source: a token file shared with other tools, refreshed through the user's token endpoint.

The file is the source of truth: it is read on every use, so a refresh done by another tool is picked up at
once. A refresh happens when the token is within `REFRESH_MARGIN` seconds of expiry, or when the provider
rejected it; one refresh runs per source at a time, and requests that queued behind it reuse its outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ccproxy.auth.tokenfile import TokenFileError, Tokens, read_doc, tokens_of, with_tokens, write_doc
from ccproxy.config.providers import OAuthAuth
from ccproxy.errors import AuthError
from ccproxy.scrub import mask_secrets

log = logging.getLogger("ccproxy.auth")

REFRESH_MARGIN = 60.0
TOKEN_TIMEOUT = (30.0, 10.0)  # read, connect (seconds)


@dataclass(frozen=True)
class Renewal:
    """The credential after a re-resolve, and how it was obtained (never logged with the value)."""

    token: str
    how: Literal["unchanged", "reread", "refreshed"]


@dataclass(frozen=True)
class Grant:
    access: str
    refresh: str | None
    expires_in: float | None


def _field(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


async def request_grant(provider: str, source: OAuthAuth, refresh_token: str) -> Grant:
    """POST a refresh_token grant to `token_url`; errors name the endpoint and the OAuth error, never a token."""
    assert source.token_url is not None
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    for key in ("client_id", "client_secret", "scope"):
        value = getattr(source, key)
        if value:
            fields[key] = value
    where = f"provider {provider!r}: token refresh at {source.token_url} failed"
    kwargs: dict[str, Any] = {"json": fields} if source.token_body == "json" else {"data": fields}
    # Imported here, not at the top: with its CLI (rich, click) httpx adds ~0.2 s to daemon start-up.
    import httpx

    try:
        timeout = httpx.Timeout(TOKEN_TIMEOUT[0], connect=TOKEN_TIMEOUT[1])
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            resp = await client.post(source.token_url, headers={"accept": "application/json"}, **kwargs)
    except httpx.HTTPError as exc:
        raise AuthError(f"{where}: {type(exc).__name__} {mask_secrets(str(exc), (refresh_token, source.client_secret))}") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200:
        # An endpoint may echo the form it got: the known secrets go by value, the rest by shape (AuthError).
        secrets = (refresh_token, source.client_secret)
        error = mask_secrets(_field(body, "error") or resp.reason_phrase, secrets)[:200]
        detail = mask_secrets(_field(body, "error_description"), secrets)[:200]
        raise AuthError(f"{where}: HTTP {resp.status_code} {error}" + (f" ({detail})" if detail else ""))
    access = _field(body, "access_token")
    if not access:
        raise AuthError(f"{where}: the answer has no access_token")
    raw_life = body.get("expires_in") if isinstance(body, dict) else None
    try:
        expires_in = float(raw_life) if raw_life is not None else None
    except (TypeError, ValueError):
        expires_in = None
    return Grant(access=access, refresh=_field(body, "refresh_token") or None, expires_in=expires_in)


def token_path(source: OAuthAuth, base: Path) -> Path:
    """Absolute, with symlinks resolved, so two spellings of one file share one RefreshState."""
    return (base / Path(source.file_path).expanduser()).resolve()


@dataclass
class RefreshState:
    """Per token file, shared by every provider that reads the same file: one refresh at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    completed: int = 0
    last_error: AuthError | None = None
    #: The refresh token of ccproxy's own last write-back, for when another writer loses it.
    written_refresh: str | None = None
    #: A token we obtained whose grant gave no lifetime: the file's old expiry no longer applies to it.
    ageless: str | None = None


class OAuthSource:
    """One provider's view of a token file; pass the file's shared RefreshState when files are shared."""

    def __init__(self, provider: str, source: OAuthAuth, base: Path, state: RefreshState | None = None) -> None:
        self.provider = provider
        self.source = source
        self.path = token_path(source, base)
        self.state = state or RefreshState()

    def _hint(self) -> str:
        return f"check providers.{self.provider}.auth"

    def read(self) -> tuple[dict[str, Any], str, Tokens]:
        try:
            doc, text = read_doc(self.path)
            return doc, text, tokens_of(doc, self.source)
        except TokenFileError as exc:
            raise AuthError(
                f"provider {self.provider!r}: OAuth token file: {exc}; sign in with the tool that owns it, "
                f"or {self._hint()}.file_path"
            ) from None

    def expires_in(self, tokens: Tokens, now: float | None = None) -> float | None:
        if tokens.expires_at is None or (tokens.access is not None and tokens.access == self.state.ageless):
            return None
        return tokens.expires_at - (time.time() if now is None else now)

    def usable(self, tokens: Tokens, rejected: str | None) -> bool:
        """Present, not the one the provider rejected, and not within the refresh margin of expiry."""
        if tokens.access is None or tokens.access == rejected:
            return False
        left = self.expires_in(tokens)
        return left is None or left > REFRESH_MARGIN

    async def token(self) -> str:
        """The current access token, refreshed first when it is within the margin of expiry."""
        _, _, tokens = self.read()
        if tokens.access is not None and self.usable(tokens, None):
            return tokens.access
        return (await self._renew(rejected=None, forced=False)).token

    async def renew(self, rejected: str | None) -> Renewal:
        """After a 401: the file's token if it is no longer `rejected`, else a refresh (forced)."""
        return await self._renew(rejected=rejected, forced=True)

    async def _renew(self, rejected: str | None, forced: bool) -> Renewal:
        seen = self.state.completed
        async with self.state.lock:
            doc, text, tokens = self.read()
            if forced and rejected is None:
                rejected = tokens.access
            if tokens.access is not None and self.usable(tokens, rejected):
                return Renewal(tokens.access, "reread" if forced else "unchanged")
            if self.state.completed != seen and self.state.last_error is not None:
                raise self.state.last_error  # the refresh this request waited on just failed
            try:
                renewal = await self._refresh(doc, text, tokens, forced)
            except AuthError as exc:
                self.state.last_error = exc
                raise
            else:
                self.state.last_error = None
            finally:
                self.state.completed += 1
            return renewal

    async def _refresh(self, doc: dict[str, Any], text: str, tokens: Tokens, forced: bool) -> Renewal:
        left = self.expires_in(tokens)
        if self.source.token_url is None:
            if not forced and tokens.access is not None and (left is None or left > 0):
                return Renewal(tokens.access, "unchanged")  # inside the margin but valid; nothing to refresh with
            state = "was rejected by the provider" if forced else "has expired"
            raise AuthError(
                f"provider {self.provider!r}: the access token in {self.path} {state} and no token_url is "
                f"configured; refresh it with the tool that owns the file, or set "
                f"providers.{self.provider}.auth.token_url"
            )
        candidates = [r for r in (tokens.refresh, self.state.written_refresh) if r]
        if not candidates:
            raise AuthError(
                f"provider {self.provider!r}: the access token in {self.path} needs a refresh but there is no "
                f"refresh token at `{self.source.refresh_path}`; sign in again with the tool that owns the file, "
                f"or {self._hint()}.refresh_path"
            )
        why = "rejected by the provider" if forced else (
            "missing" if tokens.access is None else f"expires in {left:.0f}s"
        )
        log.info("provider %r: access token %s; refreshing at %s", self.provider, why, self.source.token_url)
        try:
            grant = await self._grant(list(dict.fromkeys(candidates)))
        except AuthError as exc:
            log.warning("%s; %s was left unchanged", exc, self.path)
            return self._after_failed_refresh(tokens, exc)
        self._write(doc, text, grant)
        life = f"expires in {grant.expires_in:.0f}s" if grant.expires_in is not None else "no lifetime given"
        log.info("provider %r: access token refreshed (%s); wrote %s", self.provider, life, self.path)
        return Renewal(grant.access, "refreshed")

    async def _grant(self, candidates: list[str]) -> Grant:
        """The file's refresh token first; if the endpoint refuses it and another writer put back an older
        one over ours (a lost update), the rotated token ccproxy itself wrote last."""
        for refresh in candidates[:-1]:
            try:
                return await request_grant(self.provider, self.source, refresh)
            except AuthError:
                log.info("provider %r: the file's refresh token was refused; trying the one ccproxy wrote last",
                         self.provider)
        return await request_grant(self.provider, self.source, candidates[-1])

    def _after_failed_refresh(self, before: Tokens, exc: AuthError) -> Renewal:
        """Another tool may have refreshed (and rotated the refresh token) while ours was in flight."""
        try:
            _, _, now = self.read()
        except AuthError:
            now = before
        if now.access is not None and now.access != before.access and self.usable(now, None):
            log.info("provider %r: another tool refreshed %s meanwhile; using its token", self.provider, self.path)
            return Renewal(now.access, "reread")
        raise AuthError(f"{exc}; {self.path} was left unchanged. Sign in again or {self._hint()}") from None

    def _write(self, doc: dict[str, Any], text: str, grant: Grant) -> None:
        """Merge into the newest content of the file, so siblings another tool wrote meanwhile are kept."""
        try:
            latest, latest_text = read_doc(self.path)
        except TokenFileError:
            latest, latest_text = doc, text
        expires_at = time.time() + grant.expires_in if grant.expires_in is not None else None
        self.state.written_refresh = grant.refresh or self.state.written_refresh
        self.state.ageless = grant.access if expires_at is None else None
        fmt = tokens_of(latest, self.source).expiry_format
        try:
            write_doc(self.path, with_tokens(latest, self.source, grant.access, grant.refresh, expires_at, fmt), latest_text)
        except (OSError, TokenFileError) as exc:
            # The new access token still serves this request; the next use refreshes again.
            log.error("provider %r: refreshed, but cannot write %s (%s); check the file's permissions",
                      self.provider, self.path, exc)
