"""Resolved `command` credentials, kept until their TTL or printed expiry, resolved once at a time.

A credential helper (`pass`, `op`, `gcloud`, a script) costs milliseconds to seconds a run, and some
prompt the user: running it on every request made ccproxy several times slower than bare mitmproxy.
The value is kept for `auth.cache_ttl` seconds, or until the expiry the command printed (less a
margin); concurrent requests for a credential that is not cached wait for one run of the command
(single flight); the 401 re-resolve drops the entry first, so a rotated credential is picked up.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: A printed expiry is honoured this many seconds early: a request may take that long to reach the provider.
EXPIRY_MARGIN = 30.0
#: Keys a JSON object printed by the command may hold its token under (first present wins).
TOKEN_KEYS = ("token", "access_token", "api_key", "key", "SecretAccessKey")
#: Keys for its expiry: epoch seconds or ISO 8601 (`expires_at`, AWS's `Expiration`), or seconds from now.
EXPIRY_KEYS = ("expires_at", "expiry", "Expiration", "expiration")


@dataclass(frozen=True)
class Resolved:
    token: str
    resolved_at: float  # wall clock, for `status`
    expires_at: float | None = None  # wall clock; None: the TTL alone decides


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / (1000.0 if value > 1e12 else 1.0)  # milliseconds, as some tools print
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def read_output(text: str, now: float | None = None) -> tuple[str, float | None]:
    """The command's stdout as (token, expiry): plain text is the token; a JSON object may add an expiry."""
    now = time.time() if now is None else now
    if not text.startswith("{"):
        return text, None
    try:
        doc = json.loads(text)
    except ValueError:
        return text, None
    token = next((doc[k] for k in TOKEN_KEYS if isinstance(doc, dict) and isinstance(doc.get(k), str)), None)
    if token is None:
        return text, None
    expiry = next((e for k in EXPIRY_KEYS if (e := _epoch(doc.get(k))) is not None), None)
    if expiry is None and isinstance(doc.get("expires_in"), int | float):
        expiry = now + float(doc["expires_in"])
    return token.strip(), expiry


class CredentialCache:
    """Per provider: the last resolved value and when it goes stale; one resolve in flight at a time."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[Resolved, float]] = {}  # name -> (value, stale at)
        self._inflight: dict[str, asyncio.Future[Resolved]] = {}
        self._last: dict[str, Resolved] = {}  # survives invalidation: what `status` shows

    def _fresh(self, name: str) -> Resolved | None:
        entry = self._entries.get(name)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        return None

    async def get(self, name: str, ttl: float, load: Callable[[], Awaitable[Resolved]]) -> str:
        """The cached token, else one `load()` shared by every caller that arrives while it runs.

        Its failure is shared too: ten requests behind a locked vault get one error, not ten prompts."""
        hit = self._fresh(name)
        if hit is not None:
            return hit.token
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.ensure_future(self._load(name, ttl, load))
            self._inflight[name] = task
            task.add_done_callback(lambda _: self._inflight.pop(name, None))
        return (await asyncio.shield(task)).token  # a caller that gives up does not cancel the others' run

    async def _load(self, name: str, ttl: float, load: Callable[[], Awaitable[Resolved]]) -> Resolved:
        value = await load()
        self._last[name] = value
        stale = value.resolved_at + ttl if value.expires_at is None else value.expires_at - EXPIRY_MARGIN
        if stale > self._clock():
            self._entries[name] = (value, stale)
        return value

    def invalidate(self, name: str) -> None:
        self._entries.pop(name, None)

    def info(self, name: str) -> dict[str, float | None] | None:
        """When the credential was last resolved and until when it is used, for `status`; never the value."""
        last = self._last.get(name)
        if last is None:
            return None
        entry = self._entries.get(name)
        return {"resolved_at": last.resolved_at, "cached_until": entry[1] if entry else None,
                "expires_at": last.expires_at}
