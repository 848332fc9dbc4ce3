"""A fake OAuth token endpoint on 127.0.0.1: refresh_token grants with rotating refresh tokens.

Tokens are numbered: grant N issues `access_for(N)` and `refresh_for(N)`, and only the newest refresh token
is accepted (as providers that rotate refresh tokens do). `fail` makes every grant fail with that status and
OAuth error; `hold` parks each grant until the test releases it, so concurrent callers can pile up.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

TOKEN_PATH = "/oauth/token"


def access_for(n: int) -> str:
    return f"oauth-access-{n:04d}-very-secret"


def refresh_for(n: int) -> str:
    return f"oauth-refresh-{n:04d}-very-secret"


@dataclass
class TokenCall:
    content_type: str
    fields: dict[str, Any]


class FakeTokenEndpoint:
    """Start with `start()`; `url` is the token URL; every grant request lands in `calls`."""

    def __init__(self) -> None:
        self.calls: list[TokenCall] = []
        self.valid_refresh = refresh_for(0)
        self.issued = 0
        self.expires_in: int | None = 3600
        self.fail: tuple[int, str] | None = None
        self.echo_form = False  # a failing grant's error_description echoes the form (as some endpoints do)
        self.hold: threading.Event | None = None
        self.hold_seconds = 10.0
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{TOKEN_PATH}"

    def start(self) -> FakeTokenEndpoint:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def grant(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.fail is not None:
                status, error = self.fail
                said = f"bad request: {urlencode(fields)}" if self.echo_form else "the fake token endpoint said no"
                return status, {"error": error, "error_description": said}
            if fields.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            if fields.get("refresh_token") != self.valid_refresh:
                return 400, {"error": "invalid_grant", "error_description": "refresh token is not current"}
            self.issued += 1
            self.valid_refresh = refresh_for(self.issued)
            doc: dict[str, Any] = {
                "access_token": access_for(self.issued),
                "refresh_token": self.valid_refresh,
                "token_type": "Bearer",
            }
            if self.expires_in is not None:
                doc["expires_in"] = self.expires_in
            return 200, doc


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTokenEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("content-type", "")
        fields = json.loads(raw or b"{}") if "json" in ctype else dict(parse_qsl(raw.decode()))
        fake = self.fake
        with fake._lock:
            fake.calls.append(TokenCall(ctype, fields))
        fake.arrived.set()
        if fake.hold is not None:
            fake.hold.wait(fake.hold_seconds)
        if self.path != TOKEN_PATH:
            status, doc = 404, {"error": "not_found"}
        else:
            status, doc = fake.grant(fields)
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
