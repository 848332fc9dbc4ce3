from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ccproxy.config.model import McpHttpConfig
from ccproxy.errors import AuthError
from ccproxy.mcp.auth import BearerGate, bearer_of, resolve_token


def resolve(auth: object, tmp_path: Path) -> tuple[str, str]:
    return asyncio.run(resolve_token(McpHttpConfig.model_validate({"auth": auth}), tmp_path))


def test_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated, origin = resolve(None, tmp_path)
    assert origin == "generated" and len(generated) >= 40
    assert resolve(None, tmp_path)[0] != generated
    assert resolve(" fixed-token ", tmp_path) == ("fixed-token", "config")
    monkeypatch.setenv("MCP_TOKEN_FOR_TEST", "from-env")
    assert resolve({"type": "env", "env": "MCP_TOKEN_FOR_TEST"}, tmp_path) == ("from-env", "env")
    (tmp_path / "tok").write_text("from-file\n")
    assert resolve({"type": "file", "path": "tok"}, tmp_path) == ("from-file", "file")
    assert resolve({"type": "command", "command": "echo from-command"}, tmp_path) == ("from-command", "command")


def test_source_errors_name_the_mcp_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_TOKEN_MISSING", raising=False)
    with pytest.raises(AuthError) as err:
        resolve({"type": "env", "env": "MCP_TOKEN_MISSING"}, tmp_path)
    assert "MCP_TOKEN_MISSING" in str(err.value) and "mcp.http.auth" in str(err.value)
    assert "providers." not in str(err.value)
    with pytest.raises(AuthError, match=r"mcp\.http\.auth is empty"):
        resolve("  ", tmp_path)


def test_bearer_header_parsing() -> None:
    assert bearer_of([(b"authorization", b"Bearer abc")]) == b"abc"
    assert bearer_of([(b"Authorization", b"bearer  abc ")]) == b"abc"
    assert bearer_of([(b"authorization", b"Basic abc")]) is None
    assert bearer_of([(b"authorization", b"Bearer ")]) is None
    assert bearer_of([(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")]) is None
    assert bearer_of([]) is None


def test_gate_answers_a_bare_401_on_every_path_without_the_token() -> None:
    reached: list[str] = []

    async def hello(request: object) -> PlainTextResponse:
        reached.append("hello")
        return PlainTextResponse("secret stuff")

    app = BearerGate(Starlette(routes=[Route("/mcp", hello, methods=["GET", "POST"])]), "s3cret")
    with TestClient(app) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
            for path in ("/mcp", "/nothing-here", "/mcp/notify"):
                resp = client.post(path, headers=headers, content=b"{}")
                assert resp.status_code == 401 and resp.content == b""
                assert resp.headers["www-authenticate"].startswith("Bearer")
        assert reached == []
        ok = client.get("/mcp", headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.text == "secret stuff" and reached == ["hello"]
