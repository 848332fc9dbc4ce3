"""JA3/JA4 of a ClientHello: a published vector, GREASE handling, and agreement with mitmproxy's parser."""

from __future__ import annotations

import ssl
import struct

import pytest

from ccproxy.wire.fingerprint import (
    ClientHelloError,
    http_fingerprint,
    is_grease,
    ja3,
    ja3_string,
    ja4,
    parse_client_hello,
    tls_fingerprint,
)

# A Chrome 143 hello as browserleaks.com reported it (JA3 text, JA4, JA4_r), rebuilt byte by byte.
CHROME_JA3 = (
    "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
    "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"
)
CHROME_JA3_HASH = "98487aa16281980e7d1120d399efb6a4"
CHROME_JA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"


def u16s(values: list[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def vec(data: bytes, width: int = 2) -> bytes:
    return (struct.pack("!B", len(data)) if width == 1 else struct.pack("!H", len(data))) + data


def ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + vec(body)


def chrome_hello() -> bytes:
    ciphers = [
        0x0A0A,
        4865,
        4866,
        4867,
        49195,
        49199,
        49196,
        49200,
        52393,
        52392,
        49171,
        49172,
        156,
        157,
        47,
        53,
    ]
    sni = vec(b"\x00" + vec(b"tls.browserleaks.com"))
    alpn = vec(vec(b"h2", 1) + vec(b"http/1.1", 1))
    extensions = b"".join(
        [
            ext(0x1A1A, b""),  # GREASE
            ext(45, b"\x01\x01"),
            ext(51, vec(u16s([29]) + vec(b"k" * 32))),
            ext(16, alpn),
            ext(65037, b"\x00" * 8),
            ext(23, b""),
            ext(17613, b"\x00\x03\x02h2"),
            ext(0, sni),
            ext(11, vec(b"\x00", 1)),
            ext(10, vec(u16s([0x2A2A, 4588, 29, 23, 24]))),
            ext(43, vec(u16s([0x3A3A, 0x0304, 0x0303]), 1)),
            ext(65281, b"\x00"),
            ext(35, b""),
            ext(18, b""),
            ext(5, b"\x01\x00\x00\x00\x00"),
            ext(13, vec(u16s([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]))),
            ext(27, b"\x02\x00\x02"),
            ext(0x4A4A, b"\x00"),  # GREASE
        ]
    )
    return (
        b"\x03\x03"
        + b"\x00" * 32
        + vec(b"s" * 32, 1)
        + vec(u16s(ciphers))
        + vec(b"\x00", 1)
        + vec(extensions)
    )


def test_published_chrome_vector() -> None:
    hello = parse_client_hello(chrome_hello())
    assert ja3_string(hello) == CHROME_JA3
    assert ja3(hello) == CHROME_JA3_HASH
    assert ja4(hello) == CHROME_JA4
    doc = tls_fingerprint(chrome_hello())
    assert doc["sni"] == "tls.browserleaks.com" and doc["alpn"] == ["h2", "http/1.1"]
    assert doc["version"] == "TLSv1.3"
    assert doc["ja4_r"].startswith("t13d1516h2_002f,0035,009c,009d,1301")


def test_grease_values() -> None:
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A1A, 0x1301, 0x0000))


def real_hello(alpn: list[str], server_hostname: str | None) -> bytes:
    """A ClientHello body exactly as Python's TLS stack sends it."""
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(alpn)
    ctx.check_hostname = server_hostname is not None
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    record = outgoing.read()
    assert record[0] == 0x16 and record[5] == 0x01
    length = int.from_bytes(record[6:9], "big")
    return record[9 : 9 + length]


def test_real_hello_agrees_with_mitmproxys_parser() -> None:
    from mitmproxy.tls import ClientHello

    body = real_hello(["h2", "http/1.1"], "api.example.test")
    ours = parse_client_hello(body)
    theirs = ClientHello(body)
    assert ours.ciphers == theirs.cipher_suites
    assert [k for k, _ in ours.extensions] == [k for k, _ in theirs.extensions]
    assert ours.sni == theirs.sni == "api.example.test"
    assert ours.alpn == [a.decode() for a in theirs.alpn_protocols] == ["h2", "http/1.1"]
    assert ja4(ours).startswith("t13d") and ja4(ours)[8:10] == "h2"


def test_no_sni_no_alpn_is_i_and_00() -> None:
    hello = parse_client_hello(real_hello([], None))
    assert hello.sni is None and hello.alpn == []
    assert ja4(hello)[3] == "i" and ja4(hello)[8:10] == "00"


def test_truncated_hello_is_an_error() -> None:
    with pytest.raises(ClientHelloError):
        parse_client_hello(chrome_hello()[:40])


def test_http_fingerprint_keeps_order() -> None:
    assert http_fingerprint("HTTP/1.1", ["Host", "User-Agent", "x-api-key"]) == {
        "http_version": "HTTP/1.1",
        "header_order": ["Host", "User-Agent", "x-api-key"],
    }
