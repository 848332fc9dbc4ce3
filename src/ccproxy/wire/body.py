"""What an upstream reads out of a request: every decoded form of a body, a URL and a header value.

A server does not read the bytes on the wire: it undoes the content-encoding chain, decodes the
charset, parses JSON (with its `\\u` escapes), percent-decodes a form or a URL, splits a multipart
body into parts (each with its own transfer encoding) and decodes Basic credentials. A check that
matches raw bytes misses every one of those, so the functions here produce the values as an
upstream would see them. Pure (no mitmproxy); `addons/sanitizer.py` asks them for the sentinel.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import json
import re
import zlib
from collections.abc import Callable, Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

import brotli  # type: ignore[import-untyped]
import zstandard

#: A decoded body larger than this is not decoded further (a compression bomb is refused, not read).
MAX_DECODED = 64 * 1024 * 1024
#: Multipart inside multipart, percent-encoding inside percent-encoding: how deep we follow.
MAX_DEPTH = 4


class UndecodableBody(ValueError):
    """The body cannot be decoded the way its headers say, so nothing can vouch for what it holds."""


def _inflate(raw: bytes, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(raw, MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise UndecodableBody(f"decodes to more than {MAX_DECODED} bytes")
    if not d.eof or d.unused_data:
        raise UndecodableBody("the compressed stream is cut short or has bytes after its end")
    return out


def _gunzip(raw: bytes) -> bytes:
    return _inflate(raw, 16 + zlib.MAX_WBITS)  # checks the CRC and the length at the end


def _deflate(raw: bytes) -> bytes:
    try:
        return _inflate(raw, zlib.MAX_WBITS)
    except zlib.error:  # the raw deflate stream some servers send for "deflate"
        return _inflate(raw, -zlib.MAX_WBITS)


def _unbrotli(raw: bytes) -> bytes:
    d = brotli.Decompressor()
    out: bytes = d.process(raw)
    if not d.is_finished():
        raise UndecodableBody("the brotli stream is cut short")
    return out


def _unzstd(raw: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(raw)
    out: bytes = reader.read(MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise UndecodableBody(f"decodes to more than {MAX_DECODED} bytes")
    return out


_CODINGS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda raw: raw,
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _deflate,
    "br": _unbrotli,
    "zstd": _unzstd,
}


def decode_content(raw: bytes, content_encodings: list[str]) -> bytes:
    """Undo every content-coding named (all `Content-Encoding` fields, in order), last applied first."""
    codings = [c.strip().lower() for value in content_encodings for c in value.split(",") if c.strip()]
    body = raw
    for coding in reversed(codings):
        decode = _CODINGS.get(coding)
        if decode is None:
            raise UndecodableBody(f"unknown content-encoding {coding!r}")
        try:
            body = decode(body)
        except UndecodableBody:
            raise
        except (zlib.error, brotli.error, zstandard.ZstdError, EOFError, OSError) as exc:
            raise UndecodableBody(f"not valid {coding}: {exc}") from exc
    return body


def _params(content_type: str) -> Message:
    msg = Message()
    msg["content-type"] = content_type or "application/octet-stream"
    return msg


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _bom(body: bytes) -> str | None:
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    return None


def texts(body: bytes, content_type: str) -> list[str]:
    """The body as text under every charset an upstream might pick: declared, BOM, JSON's rule, UTF-8."""
    declared = _params(content_type).get_param("charset")
    names = [declared if isinstance(declared, str) else None, _bom(body), json.detect_encoding(body), "utf-8"]
    out: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            text = body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        if text not in out:
            out.append(text)
    return out or [body.decode("utf-8", "replace")]


def json_strings(doc: Any) -> Iterator[str]:
    """Every string in a parsed JSON document, object keys included."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """A multipart body's parts as (content type, payload with its transfer encoding undone)."""
    head = f"content-type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise UndecodableBody("a multipart body without a readable boundary")
    parts: list[tuple[str, bytes]] = []
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append((part.get("content-type", "text/plain"), payload if isinstance(payload, bytes) else b""))
    return parts


_JSON_ESCAPE = re.compile(r"\\u00[2-7][0-9a-f]", re.I)
_PERCENT_ESCAPE = re.compile(r"%[2-7][0-9a-f]", re.I)


def _has(text: str, needle: str) -> bool:
    return needle in text.lower()


def _may_hide(text: str, marker: str, escape: re.Pattern[str]) -> bool:
    """An escape of an ASCII character (which could spell the needle) appears; `in` first, it is cheaper."""
    return marker in text and escape.search(text) is not None


def body_values(body: bytes, content_type: str, needle: str, depth: int = 0) -> Iterator[str]:
    """Values an upstream reads from a decoded body that contain the needle (lower case; matched in
    any case): the whole text, JSON strings and keys, form values and keys, multipart parts
    (recursively). Raises UndecodableBody."""
    mtype = media_type(content_type)
    if mtype.startswith("multipart/"):
        if depth >= MAX_DEPTH:
            raise UndecodableBody("multipart nested too deep")
        for part_type, payload in multipart_parts(body, content_type):
            yield from body_values(payload, part_type, needle, depth + 1)
        return
    for text in texts(body, content_type):
        plain = _has(text, needle)
        if plain:
            yield text
        doc = _json(text) if plain or _may_hide(text, "\\u00", _JSON_ESCAPE) else None
        if doc is not None:
            yield from (s for s in json_strings(doc[0]) if _has(s, needle))
        if not (plain or _may_hide(text, "%", _PERCENT_ESCAPE)):
            continue
        # A form, unless the body is JSON (an upstream reads a JSON body as JSON) and not declared a form.
        if mtype == "application/x-www-form-urlencoded" or (doc or _json(text)) is None:
            for key, value in parse_qsl(text, keep_blank_values=True):
                yield from (v for v in (key, value) if _has(v, needle))


def _json(text: str) -> tuple[Any] | None:
    """The parsed document (in a 1-tuple, so JSON's `null` is not "no document"), or None."""
    try:
        return (json.loads(text),)
    except ValueError:
        return None


def url_forms(path: str) -> list[str]:
    """The request target as written and percent-decoded (`+` as space too), up to MAX_DEPTH times."""
    forms = [path]
    for _ in range(MAX_DEPTH):
        nxt = [unquote(forms[-1]), unquote_plus(forms[-1])]
        new = [f for f in nxt if f not in forms]
        if not new:
            break
        forms.extend(new)
    return forms


def header_forms(value: str) -> list[str]:
    """A header value as written, percent-decoded, and (for `Basic` credentials) base64-decoded."""
    forms = [value, unquote(value)]
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "basic" and rest:
        with contextlib.suppress(binascii.Error, ValueError):
            forms.append(base64.b64decode(rest.strip() + "==", validate=False).decode("utf-8", "replace"))
    return forms
