"""Mask credential-shaped text: the one scrubber for every place free text may carry a secret.

Free text is what ccproxy does not control: a credential command's stderr, an OAuth endpoint's error
description (some echo the form they got, `client_secret` included), a library's exception
message. The log formatter (`ccproxy.daemon.logscrub`), every `AuthError` (so `status --json`'s
`auth_check`, `/ccproxy/auth`, the 502 body and the stored flow) and the redacted exports use this
module; it imports nothing of ours, so any room may.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_NAME = (
    r"(?<![\w-])(?:[A-Za-z0-9]+[-_])*"
    r"(?:api[-_]?key|key|token|secret|password|passwd|authorization|cookie|credentials?|session[-_]?key)"
    r"(?![\w-])"
)
_SCHEME = r"(?:(?:bearer|basic|token|digest)\s+)?"
_CREDENTIALS = [
    # `x-api-key: v`, `"refresh_token": "v"`, `key=v`, `('authorization', 'Bearer v')`
    re.compile(rf"""({_NAME}['"]?\s*(?:[:=]|['"]?,)\s*['"]?{_SCHEME})([^\s'",;&)}}\]]+)""", re.I),
    re.compile(r"\b((?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})", re.I),
    re.compile(r"()\bsk-ant-oat-ccproxy-[A-Za-z0-9._-]*"),
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"()\bAIza[0-9A-Za-z_-]{20,}"),
    re.compile(r"()\bya29\.[0-9A-Za-z_.-]+"),
    re.compile(r"()\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?"),
]


#: A short lowercase word after `token:` is prose ("token: generated"), not a credential.
_WORD = re.compile(r"[a-z]{1,12}")


_SENTINEL_PREFIX = "sk-ant-oat-ccproxy-"


def _mask(match: re.Match[str]) -> str:
    value = match.group(2) if match.re.groups >= 2 else ""
    if value and _WORD.fullmatch(value):
        return match.group(0)
    return match.group(1) + MASK


def _mask_keeping_sentinels(match: re.Match[str]) -> str:
    value = match.group(2) if match.re.groups >= 2 else match.group(0)
    if value.startswith(_SENTINEL_PREFIX):
        return match.group(0)
    return _mask(match)


def mask_credentials(text: str, keep_sentinels: bool = False) -> str:
    """`text` with every credential-shaped value (and, unless kept, every sentinel key) masked.

    A sentinel key is no secret; an error message keeps it readable (it says which provider)."""
    mask = _mask_keeping_sentinels if keep_sentinels else _mask
    for pattern in _CREDENTIALS:
        text = pattern.sub(mask, text)
    return text


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with each known secret value (a configured client secret, a refresh token) masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
