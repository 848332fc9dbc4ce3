"""The decoded forms an upstream reads: content-coding chains, charsets, JSON escapes, forms, parts."""

from __future__ import annotations

import gzip
import re
import zlib

import brotli  # type: ignore[import-untyped]
import pytest
import zstandard

from ccproxy.wire.body import (
    MAX_DECODED,
    UndecodableBody,
    body_values,
    decode_content,
    header_forms,
    url_forms,
)

NEEDLE = re.compile("secret-x", re.I)


def values(body: bytes, content_type: str) -> list[str]:
    return list(body_values(body, content_type, "secret-x"))


@pytest.mark.parametrize("coding,encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]), ("br", brotli.compress),
    ("zstd", zstandard.ZstdCompressor().compress), ("identity", lambda b: b),
])
def test_each_coding_is_undone(coding: str, encode: object) -> None:
    assert callable(encode)
    assert decode_content(encode(b"hello"), [coding]) == b"hello"


def test_a_chain_is_undone_last_first_across_fields() -> None:
    raw = brotli.compress(gzip.compress(b"hello"))
    assert decode_content(raw, ["gzip, br"]) == b"hello"
    assert decode_content(raw, ["gzip", "br"]) == b"hello"
    assert decode_content(gzip.compress(gzip.compress(b"x")), ["gzip, gzip"]) == b"x"


@pytest.mark.parametrize("raw,codings", [
    (b"plain", ["x-foo"]),
    (gzip.compress(b"x"), ["gzip, gzip"]),
    (b"plain", ["br"]),
    (gzip.compress(b"hello")[:-8] + b"\0\0\0\0" + gzip.compress(b"hello")[-4:], ["gzip"]),  # bad CRC
    (gzip.compress(b"hello")[:-3], ["gzip"]),  # cut short
    (gzip.compress(b"hello") + b"junk", ["gzip"]),
    (gzip.compress(b"\0" * (MAX_DECODED + 1)), ["gzip"]),  # a bomb is not inflated
])
def test_what_cannot_be_decoded_says_so(raw: bytes, codings: list[str]) -> None:
    with pytest.raises(UndecodableBody):
        decode_content(raw, codings)


def test_json_strings_are_read_with_their_escapes_undone_in_any_charset() -> None:
    doc = '{"a": ["secret-\\u0078 "], "secret-x-key": 1}'
    assert sorted(values(doc.encode(), "application/json")) == sorted([doc, "secret-x-key", "secret-x "])
    for charset in ("utf-16", "utf-16-le", "utf-32"):
        got = values(doc.encode(charset), f"application/json; charset={charset}")
        assert "secret-x " in got, charset
    assert "secret-x " in values(doc.encode("utf-16"), "text/plain")  # BOM, no charset


def test_form_values_and_keys_are_percent_decoded() -> None:
    assert values(b"a=1&k=secret%2dx+&secret%2Dx=2", "application/x-www-form-urlencoded") == [
        "secret-x ", "secret-x"]
    assert values(b"k=secret%2dx", "text/plain")[-1] == "secret-x"  # not JSON: read as a form too


def test_multipart_parts_are_read_with_their_transfer_encoding_undone() -> None:
    body = (b"--b\r\ncontent-disposition: form-data; name=\"k\"\r\n\r\nsecret-x\r\n"
            b"--b\r\ncontent-disposition: form-data; name=\"j\"\r\ncontent-type: application/json\r\n"
            b"content-transfer-encoding: base64\r\n\r\neyJrIjogInNlY3JldC14In0=\r\n--b--\r\n")
    got = values(body, "multipart/form-data; boundary=b")
    assert "secret-x" in got and '{"k": "secret-x"}' in got


def test_a_body_without_the_needle_or_an_escape_is_not_parsed() -> None:
    assert values(b'{"a": "b"}', "application/json") == []


def test_a_json_body_is_not_read_as_a_form_unless_declared_one() -> None:
    body = b'{"text": "a url: ?x=1&k=secret%2Dx&y"}'
    assert values(body, "application/json") == []
    assert values(body, "application/x-www-form-urlencoded") == ["secret-x"]


def test_urls_and_headers_in_their_decoded_forms() -> None:
    assert any(NEEDLE.search(f) for f in url_forms("/v1?k=secret%252Dx"))
    assert any(NEEDLE.search(f) for f in header_forms("Basic dXNlcjpzZWNyZXQteA=="))  # user:secret-x
    assert any(NEEDLE.search(f) for f in header_forms("a=secret%2dx"))
