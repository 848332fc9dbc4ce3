"""How a credential sits in a request: the one place that puts it in, reads it back and masks it.

Three callers put a credential in: the inbound `inject_auth` hook (sentinel -> provider credential),
the router (a redirect or transform to another provider, whose credential replaces the first one)
and the 401 replay (a renewed credential). All go through `apply_credential`, so the rules are the
same everywhere: no other key travels with it, and it replaces the old value where it stood (a
shaped request keeps its header order).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from ccproxy.auth.sentinel import KEY_HEADERS

BEARER = "Bearer "


def strip_client_keys(request: Any, keep: str | None = None) -> None:
    """Drop every key header (but `keep`) and the `key` query parameter from a mitmproxy request."""
    headers = request.headers
    for name in KEY_HEADERS:
        if name != (keep or "").lower() and name in headers:
            del headers[name]
    path, _, query = request.path.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k == "key" for k, _ in pairs):
        cleaned = urlencode([(k, v) for k, v in pairs if k != "key"])
        request.path = f"{path}?{cleaned}" if cleaned else path


def apply_credential(request: Any, header: str, token: str) -> None:
    """`token` goes out in `header` and is the only key the request carries.

    `authorization` gets `Bearer <token>`, any other header the token as is; an existing `header`
    is replaced in place, else it is added.
    """
    strip_client_keys(request, keep=header)
    _put(request.headers, header, token)


def sent_credential(headers: Any, header: str) -> str | None:
    """The credential as it went out in `header` (without the `Bearer ` prefix)."""
    value = headers.get(header)
    if value is None:
        return None
    bearer = header.lower() == "authorization" and value[: len(BEARER)].lower() == BEARER.lower()
    return str(value[len(BEARER):] if bearer else value)


def mask_credential(request: Any, header: str, mask: str) -> None:
    """Replace a credential that has left with `mask`, in the same form, so the flow keeps no secret."""
    if header in request.headers:
        _put(request.headers, header, mask)


def _put(headers: Any, header: str, token: str) -> None:
    if header.lower() == "authorization":
        headers["authorization"] = f"{BEARER}{token}"
    else:
        headers[header] = token
