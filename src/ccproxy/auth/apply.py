"""Put a credential into a request's headers, and take the client's own keys out."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from ccproxy.auth.sentinel import KEY_HEADERS


def strip_client_keys(headers: Any, query: str) -> str:
    """Drop every key header and the `key` query parameter; return the cleaned query string."""
    for name in KEY_HEADERS:
        if name in headers:
            del headers[name]
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "key"]
    return urlencode(pairs)


def set_credential(headers: Any, header: str, token: str) -> None:
    """`authorization` gets `Bearer <token>`; any other header gets the token as is."""
    if header.lower() == "authorization":
        headers["authorization"] = f"Bearer {token}"
    else:
        headers[header] = token
