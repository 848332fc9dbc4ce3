"""The MCP server's bearer token: where it comes from, and the gate every HTTP request passes.

`mcp.http.auth` is a fixed token or a credential source (env, file, command, oauth token file),
resolved once at start; unset, a random token is generated. Either way it lands in the 0600
state file, where `ccproxy status --show-secrets` finds it for the client config snippet.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from ccproxy.auth.oauth import OAuthSource
from ccproxy.auth.sources import read_env, read_file, run_command
from ccproxy.config.model import McpHttpConfig
from ccproxy.config.providers import CommandAuth, EnvAuth, FileAuth
from ccproxy.errors import AuthError

_NAME = "mcp"


def _for_mcp(exc: AuthError) -> AuthError:
    """The source helpers speak of providers; say which setting to fix instead."""
    text = str(exc).replace(f"providers.{_NAME}.auth", "mcp.http.auth").replace(f"provider {_NAME!r}", "mcp.http.auth")
    return AuthError(text)


async def resolve_token(http: McpHttpConfig, config_dir: Path) -> tuple[str, str]:
    """(token, where it came from): `config`, `env`, `file`, `command`, `oauth` or `generated`."""
    source = http.auth
    if source is None:
        return secrets.token_urlsafe(32), "generated"
    if isinstance(source, str):
        if not source.strip():
            raise AuthError("mcp.http.auth is empty; set a token, a credential source, or remove the key")
        return source.strip(), "config"
    try:
        if isinstance(source, EnvAuth):
            return read_env(_NAME, source), "env"
        if isinstance(source, FileAuth):
            return read_file(_NAME, source, config_dir), "file"
        if isinstance(source, CommandAuth):
            return await run_command(_NAME, source), "command"
        return await OAuthSource(_NAME, source, config_dir).token(), "oauth"
    except AuthError as exc:
        raise _for_mcp(exc) from None


def bearer_of(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header, if there is exactly one such header."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].strip().partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip()


class BearerGate:
    """ASGI middleware: an HTTP request without the right bearer token gets a bare 401, nothing else.

    It wraps the whole app, so unknown paths, the MCP endpoint and `/mcp/notify` all look the
    same to a caller without the token. Lifespan events pass through untouched."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def allows(self, headers: list[tuple[bytes, bytes]]) -> bool:
        given = bearer_of(headers)
        return given is not None and hmac.compare_digest(given, self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allows(list(scope.get("headers") or [])):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", b'Bearer realm="ccproxy"'), (b"content-length", b"0")],
        })
        await send({"type": "http.response.body", "body": b""})
