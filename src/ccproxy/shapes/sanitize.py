"""What may never be in a shape: credentials, cookies, ccproxy's own headers, per-connection fields.

`clean_*` take them out when a shape is saved; `*_problems` find them when one is audited. Both use
the same predicates, so `shapes audit` accepts exactly what `shapes save` writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ccproxy.config.shaping import CREDENTIAL_HEADERS
from ccproxy.store.redact import MASK, SENTINEL_PREFIX, is_sensitive_field, is_sensitive_header

INTERNAL_PREFIX = "x-ccproxy-"
#: Decided by the connection or the body at send time, never part of an envelope.
RUNTIME_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te",
    "trailer", "upgrade", "content-encoding", "expect",
})
_SCHEMES = ("bearer ", "basic ", "token ", "digest ")


def _secret_value(value: str) -> bool:
    low = value.lower().lstrip()
    return SENTINEL_PREFIX in value or MASK in value or low.startswith(_SCHEMES)


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be in a shape, or None when it may."""
    low = name.lower()
    if low in ("cookie", "set-cookie"):
        return "cookie"
    if low in CREDENTIAL_HEADERS or is_sensitive_header(low) or _secret_value(value):
        return "credential"
    if low.startswith(INTERNAL_PREFIX):
        return "ccproxy header"
    if low in RUNTIME_HEADERS:
        return "per-connection header"
    return None


def clean_headers(headers: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """(headers a shape may keep, in order; names of those removed)."""
    kept, removed = [], []
    for name, value in headers:
        if header_problem(name, value):
            removed.append(name.lower())
        else:
            kept.append((name, value))
    return kept, removed


def _bad_param(name: str, value: str) -> bool:
    return is_sensitive_field(name) or _secret_value(value)


def clean_path(path: str) -> tuple[str, list[str]]:
    """The path with credential query parameters (`key=`, tokens) removed; (path, removed names)."""
    bare, sep, query = path.partition("?")
    if not sep:
        return path, []
    pairs = parse_qsl(query, keep_blank_values=True)
    removed = [k for k, v in pairs if _bad_param(k, v)]
    if not removed:
        return path, []
    kept = urlencode([(k, v) for k, v in pairs if not _bad_param(k, v)])
    return bare + ("?" + kept if kept else ""), removed


def path_problems(path: str) -> list[str]:
    query = path.partition("?")[2]
    return [k for k, v in parse_qsl(query, keep_blank_values=True) if _bad_param(k, v)]


def _walk(doc: Any, prefix: str) -> Iterable[tuple[str, Any, Any, Any]]:
    """(path, container, key, value) for every value under `doc`."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(doc, dict):
        items = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        yield path, doc, key, value
        yield from _walk(value, path)


def _bad_field(key: Any, value: Any) -> bool:
    if isinstance(key, str) and is_sensitive_field(key) and isinstance(value, str):
        return True
    return isinstance(value, str) and (SENTINEL_PREFIX in value or MASK in value)


def body_problems(body: Any) -> list[str]:
    """Dotted paths of credential fields (by name) and of strings holding a sentinel or a masked value."""
    return [path for path, _, key, value in _walk(body, "") if _bad_field(key, value)]


def clean_body(body: dict[str, Any]) -> list[str]:
    """Remove credential fields from `body` in place; returns their dotted paths."""
    hits = [(path, container, key) for path, container, key, value in _walk(body, "") if _bad_field(key, value)]
    for _, container, key in reversed(hits):
        try:
            del container[key]
        except (KeyError, IndexError):
            continue
    return [path for path, _, _ in hits]
