"""Cached `command` credentials: TTL, printed expiry, single flight, a shared failure, invalidation."""

from __future__ import annotations

import asyncio

import pytest

from ccproxy.auth.cache import EXPIRY_MARGIN, CredentialCache, Resolved, read_output
from ccproxy.errors import AuthError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def loader(clock: Clock, runs: list[str], expires_at: float | None = None, fail: bool = False):  # type: ignore[no-untyped-def]
    async def load() -> Resolved:
        runs.append("run")
        await asyncio.sleep(0)  # let concurrent callers arrive while it runs
        if fail:
            raise AuthError("provider 'p': vault is locked")
        return Resolved(f"tok-{len(runs)}", clock.now, expires_at)

    return load


def test_ttl_keeps_the_value_then_runs_again() -> None:
    clock, runs = Clock(), []  # type: ignore[var-annotated]
    cache = CredentialCache(clock)

    async def go() -> list[str]:
        first = [await cache.get("p", 300, loader(clock, runs)) for _ in range(3)]
        clock.now += 301
        return [*first, await cache.get("p", 300, loader(clock, runs))]

    assert asyncio.run(go()) == ["tok-1", "tok-1", "tok-1", "tok-2"]
    info = cache.info("p")
    assert info is not None and info["resolved_at"] == clock.now and info["cached_until"] == clock.now + 300


def test_a_printed_expiry_decides_and_ttl_zero_never_caches() -> None:
    clock, runs = Clock(), []  # type: ignore[var-annotated]
    cache = CredentialCache(clock)

    async def go() -> list[str]:
        out = [await cache.get("p", 5, loader(clock, runs, expires_at=clock.now + 100))]
        clock.now += 50  # past the TTL, before the expiry
        out.append(await cache.get("p", 5, loader(clock, runs, expires_at=clock.now + 100)))
        clock.now += 100 - 50 - EXPIRY_MARGIN  # within the margin of the expiry
        out.append(await cache.get("p", 5, loader(clock, runs)))
        out += [await cache.get("q", 0, loader(clock, runs)) for _ in range(2)]
        return out

    assert asyncio.run(go()) == ["tok-1", "tok-1", "tok-2", "tok-3", "tok-4"]


def test_concurrent_callers_share_one_run_and_its_failure() -> None:
    clock, runs = Clock(), []  # type: ignore[var-annotated]
    cache = CredentialCache(clock)

    async def go() -> list[object]:
        ok = await asyncio.gather(*(cache.get("p", 300, loader(clock, runs)) for _ in range(10)))
        bad = await asyncio.gather(*(cache.get("b", 300, loader(clock, runs, fail=True)) for _ in range(10)),
                                   return_exceptions=True)
        return [*ok, *bad]

    out = asyncio.run(go())
    assert out[:10] == ["tok-1"] * 10 and len(runs) == 2
    assert all(isinstance(e, AuthError) for e in out[10:])


def test_invalidate_forces_a_new_run() -> None:
    clock, runs = Clock(), []  # type: ignore[var-annotated]
    cache = CredentialCache(clock)

    async def go() -> list[str]:
        first = await cache.get("p", 300, loader(clock, runs))
        cache.invalidate("p")
        return [first, await cache.get("p", 300, loader(clock, runs))]

    assert asyncio.run(go()) == ["tok-1", "tok-2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain-token", ("plain-token", None)),
        ('{"token": "t", "expires_at": 2000}', ("t", 2000.0)),
        ('{"access_token": "t", "expires_at": 1700000000000}', ("t", 1700000000.0)),  # milliseconds
        ('{"api_key": "t", "Expiration": "1970-01-01T00:33:20Z"}', ("t", 2000.0)),
        ('{"token": "t", "expires_in": 60}', ("t", 1060.0)),
        ('{"type": "service_account", "private_key": "..."}', ('{"type": "service_account", "private_key": "..."}', None)),
        ("{not json", ("{not json", None)),
    ],
)
def test_read_output(text: str, expected: tuple[str, float | None]) -> None:
    assert read_output(text, now=1000.0) == expected
