"""What a client looks like on the wire: its TLS ClientHello as JA3 and JA4, its HTTP version and header order.

For inspection only: ccproxy records fingerprints, it never imitates one.
JA3: https://github.com/salesforce/ja3 . JA4: https://github.com/FoxIO-LLC/ja4 (TLS client part).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

EXT_SNI = 0x0000
EXT_GROUPS = 0x000A
EXT_POINT_FORMATS = 0x000B
EXT_SIG_ALGS = 0x000D
EXT_ALPN = 0x0010
EXT_VERSIONS = 0x002B

VERSION_NAMES = {
    0x0304: "TLSv1.3",
    0x0303: "TLSv1.2",
    0x0302: "TLSv1.1",
    0x0301: "TLSv1.0",
    0x0300: "SSLv3",
}
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}


def is_grease(value: int) -> bool:
    """RFC 8701 values (0x0a0a, 0x1a1a, ... 0xfafa) that clients add to keep servers honest."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


class ClientHelloError(ValueError):
    """The bytes are not a well-formed TLS ClientHello."""


@dataclass
class ClientHello:
    """The fields of a ClientHello the fingerprints use, in wire order, GREASE included."""

    legacy_version: int
    ciphers: list[int]
    extensions: list[tuple[int, bytes]]
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ClientHelloError("truncated ClientHello")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def vec(self, width: int) -> bytes:
        length = self.u8() if width == 1 else self.u16()
        return self.take(length)

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _u16_list(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack("!H", data[: len(data) // 2 * 2])]


def _fill_extension(hello: ClientHello, kind: int, body: bytes) -> None:
    r = _Reader(body)
    if kind == EXT_SNI and body:
        names = _Reader(r.vec(2))
        while names.left:
            name_type, name = names.u8(), names.vec(2)
            if name_type == 0:
                hello.sni = name.decode("ascii", "replace")
    elif kind == EXT_ALPN and body:
        protos = _Reader(r.vec(2))
        while protos.left:
            hello.alpn.append(protos.vec(1).decode("ascii", "replace"))
    elif kind == EXT_GROUPS and body:
        hello.groups = _u16_list(r.vec(2))
    elif kind == EXT_POINT_FORMATS and body:
        hello.point_formats = list(r.vec(1))
    elif kind == EXT_SIG_ALGS and body:
        hello.sig_algs = _u16_list(r.vec(2))
    elif kind == EXT_VERSIONS and body:
        hello.versions = _u16_list(r.vec(1))


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello message body (from legacy_version on, no record or handshake header)."""
    r = _Reader(body)
    version = r.u16()
    r.take(32)  # random
    r.vec(1)  # legacy_session_id
    ciphers = _u16_list(r.vec(2))
    r.vec(1)  # legacy_compression_methods
    hello = ClientHello(legacy_version=version, ciphers=ciphers, extensions=[])
    if r.left:
        exts = _Reader(r.vec(2))
        while exts.left:
            kind, ext_body = exts.u16(), exts.vec(2)
            hello.extensions.append((kind, ext_body))
            try:
                _fill_extension(hello, kind, ext_body)
            except ClientHelloError:
                continue  # a malformed extension body does not hide the rest of the hello
    return hello


def ja3_string(hello: ClientHello) -> str:
    def join(values: list[int]) -> str:
        return "-".join(str(v) for v in values if not is_grease(v))

    return ",".join(
        [
            str(hello.legacy_version),
            join(hello.ciphers),
            join([kind for kind, _ in hello.extensions]),
            join(hello.groups),
            "-".join(str(v) for v in hello.point_formats),
        ]
    )


def ja3(hello: ClientHello) -> str:
    return hashlib.md5(ja3_string(hello).encode(), usedforsecurity=False).hexdigest()


def _alpn_code(alpn: list[str]) -> str:
    if not alpn or not alpn[0]:
        return "00"
    first, last = alpn[0][0], alpn[0][-1]
    if first.isascii() and first.isalnum() and last.isascii() and last.isalnum():
        return first + last
    raw = alpn[0].encode()
    return f"{raw[0]:02x}"[0] + f"{raw[-1]:02x}"[-1]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4_parts(hello: ClientHello, transport: str = "t") -> tuple[str, str, str]:
    """The readable prefix and the two lists JA4 hashes (JA4_r without the hashing)."""
    versions = [v for v in hello.versions if not is_grease(v)]
    version = JA4_VERSIONS.get(max(versions) if versions else hello.legacy_version, "00")
    ciphers = [c for c in hello.ciphers if not is_grease(c)]
    kinds = [k for k, _ in hello.extensions if not is_grease(k)]
    prefix = (
        f"{transport}{version}{'d' if hello.sni else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(kinds), 99):02d}{_alpn_code(hello.alpn)}"
    )
    cipher_list = ",".join(f"{c:04x}" for c in sorted(ciphers))
    ext_list = ",".join(f"{k:04x}" for k in sorted(k for k in kinds if k not in (EXT_SNI, EXT_ALPN)))
    sigs = ",".join(f"{s:04x}" for s in hello.sig_algs if not is_grease(s))
    return prefix, cipher_list, f"{ext_list}_{sigs}" if sigs else ext_list


def ja4(hello: ClientHello, transport: str = "t") -> str:
    prefix, ciphers, extensions = ja4_parts(hello, transport)
    return f"{prefix}_{_hash12(ciphers)}_{_hash12(extensions)}"


def tls_fingerprint(body: bytes) -> dict[str, Any]:
    """The `.ccproxy.fingerprint.tls` object for one ClientHello body."""
    hello = parse_client_hello(body)
    versions = [v for v in hello.versions if not is_grease(v)]
    top = max(versions) if versions else hello.legacy_version
    return {
        "version": VERSION_NAMES.get(top, f"0x{top:04x}"),
        "sni": hello.sni,
        "alpn": hello.alpn,
        "ja3": ja3(hello),
        "ja3_string": ja3_string(hello),
        "ja4": ja4(hello),
        "ja4_r": "_".join(ja4_parts(hello)),
    }


def http_fingerprint(http_version: str, header_names: list[str]) -> dict[str, Any]:
    """HTTP version and header names in the order the client sent them (values left out: they hold keys)."""
    return {"http_version": http_version, "header_order": header_names}
