"""Mask credentials in headers, URLs and bodies: every export and view of a flow goes through here.

Masked: API keys (`x-api-key`, `api-key`, `x-goog-api-key`, `?key=`), bearer and basic tokens,
cookies, OAuth tokens (in headers, query strings, JSON and form bodies). Sentinel keys
(`sk-ant-oat-ccproxy-<provider>`) are placeholders, not secrets, so they stay readable: that is
what lets `flows compare` show "the client sent the sentinel, ccproxy forwarded a real key".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

MASK = "[REDACTED]"

#: The sentinel prefix (see `ccproxy.auth.sentinel`), repeated here so `flows` imports nothing heavy.
SENTINEL_PREFIX = "sk-ant-oat-ccproxy-"

#: Whole name segments only: `x-ratelimit-remaining-tokens` is not a credential, `x-amz-security-token` is.
_HEADER = re.compile(
    r"(?:^|[-_])(authorization|token|secret|password|passwd|credentials?|apikey|api[-_]key|session[-_]key|"
    r"cookie)(?:$|[-_])",
    re.I,
)
_FIELD = re.compile(
    r"^(key|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|token|client[-_]?secret|"
    r"password|secret|code[-_]?verifier|assertion|session[-_]?key|sig|signature)$",
    re.I,
)
_SCHEME = re.compile(r"^(bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+", re.I)


def is_sensitive_header(name: str) -> bool:
    return _HEADER.search(name) is not None


def is_sensitive_field(name: str) -> bool:
    """A query parameter, form field or JSON key whose value is a credential."""
    return _FIELD.match(name) is not None


def mask_value(value: str) -> str:
    """Mask one credential value, keeping a sentinel key and an auth scheme word readable."""
    if value.startswith(SENTINEL_PREFIX) or not value:
        return value
    scheme = _SCHEME.match(value)
    if scheme:
        rest = value[scheme.end() :]
        return scheme.group(0) + (rest if rest.startswith(SENTINEL_PREFIX) else MASK)
    return MASK


def _mask_cookie(value: str, separator: str) -> str:
    parts = []
    for part in value.split(separator):
        name, eq, _ = part.strip().partition("=")
        parts.append(f"{name}={MASK}" if eq else part.strip())
    return (separator + " ").join(parts)


def redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower == "cookie":
        return _mask_cookie(value, ";")
    if lower == "set-cookie":
        first, sep, attrs = value.partition(";")
        return _mask_cookie(first, ";") + (sep + attrs if sep else "")
    return mask_value(value) if is_sensitive_header(name) else value


def redact_headers(headers: Iterable[Sequence[str]]) -> list[list[str]]:
    """`[[name, value], ...]` with credential values masked (names and order kept)."""
    return [[str(h[0]), redact_header(str(h[0]), str(h[1]))] for h in headers]


def redact_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(is_sensitive_field(k) for k, _ in pairs):
        return query
    masked = [(k, mask_value(v) if is_sensitive_field(k) else v) for k, v in pairs]
    return urlencode(masked, safe="[]")


def redact_url(url: str) -> str:
    """A URL with `?key=` (and other credential parameters) and any `user:password@` masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = redact_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_path(path: str) -> str:
    """A request path (with query) as mitmproxy keeps it, credential parameters masked."""
    bare, sep, query = path.partition("?")
    return bare + sep + redact_query(query) if sep else path


def redact_json(doc: Any) -> Any:
    """A JSON value with every credential-named key's string value masked, recursively."""
    if isinstance(doc, dict):
        return {
            k: (mask_value(v) if isinstance(v, str) and is_sensitive_field(k) else redact_json(v))
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [redact_json(v) for v in doc]
    return doc


def redact_body(body: bytes, content_type: str = "") -> bytes:
    """A JSON or form body with credential fields masked; anything else is returned unchanged."""
    if not body:
        return body
    ctype = content_type.lower()
    head = body.lstrip()[:1]
    if "json" in ctype or head in (b"{", b"["):
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        redacted = redact_json(doc)
        return body if redacted == doc else json.dumps(redacted, ensure_ascii=False).encode()
    if "x-www-form-urlencoded" in ctype:
        text = body.decode("utf-8", "replace")
        masked = redact_query(text)
        return body if masked == text else masked.encode()
    return body


#: `"name": "value"` anywhere in a text (JSON at any depth, SSE `data:` lines, JSON lines).
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
#: `name=value` in a form or query string.
_FORM_PAIR = re.compile(r"(^|&)([^&=]*)=([^&]*)")


def _mask_json_pair(m: re.Match[str]) -> str:
    name, sep, value = m.group(1), m.group(2), m.group(3)
    if not is_sensitive_field(name):
        return m.group(0)
    return f'"{name}"{sep}"{mask_value(value)}"'


def _mask_form_pair(m: re.Match[str]) -> str:
    lead, name, value = m.group(1), m.group(2), m.group(3)
    if not is_sensitive_field(unquote_plus(name)):
        return m.group(0)
    masked = mask_value(unquote_plus(value))
    return f"{lead}{name}={value if masked == unquote_plus(value) else MASK}"


def redact_raw(body: bytes, content_type: str = "") -> bytes:
    """Like `redact_body`, but in place: the bytes keep their layout, only credential values change.

    For the views that promise a body as captured (`flows show --raw`): JSON at any depth, SSE
    events and form bodies; anything else comes back unchanged."""
    if not body:
        return body
    text = body.decode("utf-8", "surrogateescape")
    if "x-www-form-urlencoded" in content_type.lower():
        masked = _FORM_PAIR.sub(_mask_form_pair, text)
    else:
        masked = _JSON_PAIR.sub(_mask_json_pair, text) if '"' in text else text
    return body if masked == text else masked.encode("utf-8", "surrogateescape")
