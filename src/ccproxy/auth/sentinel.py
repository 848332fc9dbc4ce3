"""The sentinel key `sk-ant-oat-ccproxy-{provider}`: where clients put it and how to read it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

SENTINEL_PREFIX = "sk-ant-oat-ccproxy-"
_SENTINEL = re.compile(re.escape(SENTINEL_PREFIX) + r"([A-Za-z0-9_.-]+)")

#: Where SDKs put their key: Anthropic, OpenAI (Bearer), Gemini.
KEY_HEADERS = ("x-api-key", "authorization", "x-goog-api-key")


def sentinel_for(provider: str) -> str:
    return SENTINEL_PREFIX + provider


@dataclass(frozen=True)
class SentinelHit:
    provider: str
    header: str | None  # the header it was found in, or None for the `key` query parameter


def find_sentinel(headers: dict[str, str] | object, query: str = "") -> SentinelHit | None:
    """Find a sentinel key in the key headers or the `?key=` parameter."""
    get = getattr(headers, "get", None)
    for name in KEY_HEADERS:
        value = get(name) if get else None
        if value and (m := _SENTINEL.search(value)):
            return SentinelHit(m.group(1), name)
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k == "key" and (m := _SENTINEL.fullmatch(v)):
            return SentinelHit(m.group(1), None)
    return None


def contains_sentinel(text: str) -> bool:
    return SENTINEL_PREFIX in text


#: What the egress check looks for, in any letter case, in every decoded form (a pattern for headers
#: and URLs; body scans compare lower-cased text with the prefix itself, which is faster).
SENTINEL_ANYCASE = re.compile(re.escape(SENTINEL_PREFIX), re.I)
_CREDENTIAL_VALUE = re.compile(r"(?:(?:bearer|basic|token)\s+)?" + re.escape(SENTINEL_PREFIX) + r"\S*", re.I)


def is_sentinel_credential(value: str) -> bool:
    """The whole value (surrounding whitespace aside) is a sentinel key, maybe after an auth scheme word.

    A value that merely quotes one inside other text is data (a prompt, a file), not a credential.
    """
    return _CREDENTIAL_VALUE.fullmatch(value.strip()) is not None
