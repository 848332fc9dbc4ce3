"""The forward listener's per-daemon credential: HTTP Basic proxy auth, checked in constant time.

Any local user can connect to a loopback port; only a process that was handed the credential (by
`ccproxy run --proxy`, read from the 0600 state file) can use the proxy.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

USERNAME = "ccproxy"
REALM = "ccproxy"


@dataclass(frozen=True)
class ProxyCredential:
    username: str
    password: str

    @classmethod
    def generate(cls) -> ProxyCredential:
        return cls(USERNAME, secrets.token_urlsafe(24))

    def url(self, host: str, port: int) -> str:
        """The proxy URL a client is given, credential included (user info percent-encoded)."""
        return f"http://{quote(self.username, safe='')}:{quote(self.password, safe='')}@{host}:{port}"

    def header(self) -> str:
        """The `Proxy-Authorization` value a client sends for this credential."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def accepts(self, header_value: str | None) -> bool:
        """Whether a `Proxy-Authorization` value carries exactly this credential (Basic scheme)."""
        given = parse_basic(header_value or "")
        if given is None:
            return False
        user_ok = hmac.compare_digest(given[0].encode(), self.username.encode())
        pass_ok = hmac.compare_digest(given[1].encode(), self.password.encode())
        return user_ok and pass_ok


def parse_basic(value: str) -> tuple[str, str] | None:
    """(user, password) from `Basic base64(user:password)`, or None for anything else."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
