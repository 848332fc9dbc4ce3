from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from ccproxy.auth.tokenfile import (
    TokenFileError,
    dump_like,
    format_expiry,
    get_path,
    parse_expiry,
    read_doc,
    set_path,
    tokens_of,
    with_tokens,
    write_doc,
)
from ccproxy.config.providers import OAuthAuth

CLAUDE_LIKE: dict[str, Any] = {
    "claudeAiOauth": {
        "accessToken": "at-old",
        "refreshToken": "rt-old",
        "expiresAt": 1_760_000_000_000,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    },
    "mcpOAuth": {"server-a": {"accessToken": "mcp-token"}},
}


def source(**extra: object) -> OAuthAuth:
    return OAuthAuth.model_validate({
        "type": "oauth",
        "file_path": "creds.json",
        "access_path": "claudeAiOauth.accessToken",
        "refresh_path": "claudeAiOauth.refreshToken",
        "expiry_path": "claudeAiOauth.expiresAt",
        **extra,
    })


def test_dot_paths_read_and_write_nested_values() -> None:
    doc = {"a": {"b": [{"c": 1}]}}
    assert get_path(doc, "a.b.0.c") == 1
    assert get_path(doc, "a.x") is None
    assert get_path(doc, "a.b.5") is None
    set_path(doc, "a.b.0.c", 2)
    set_path(doc, "new.deep.key", "v")
    assert doc == {"a": {"b": [{"c": 2}]}, "new": {"deep": {"key": "v"}}}
    with pytest.raises(TokenFileError):
        set_path({"a": "text"}, "a.b", 1)


@pytest.mark.parametrize(
    ("value", "seconds", "fmt"),
    [
        (1_760_000_000, 1_760_000_000.0, "s"),
        (1_760_000_000_000, 1_760_000_000.0, "ms"),
        ("1760000000", 1_760_000_000.0, "s-str"),
        ("1760000000000", 1_760_000_000.0, "ms-str"),
        ("2025-10-09T08:53:20Z", 1_760_000_000.0, "iso"),
        ("2025-10-09T08:53:20+00:00", 1_760_000_000.0, "iso"),
        (None, None, "s"),
        ("soon", None, "s"),
        (True, None, "s"),
    ],
)
def test_expiry_units_are_detected(value: object, seconds: float | None, fmt: str) -> None:
    assert parse_expiry(value) == (seconds, fmt)


@pytest.mark.parametrize("fmt", ["s", "ms", "s-str", "ms-str", "iso"])
def test_expiry_is_written_back_in_the_files_own_shape(fmt: str) -> None:
    written = format_expiry(1_800_000_000.0, fmt)  # type: ignore[arg-type]
    assert parse_expiry(written) == (1_800_000_000.0, fmt)


def test_tokens_and_write_back_keep_every_sibling() -> None:
    src = source()
    tokens = tokens_of(CLAUDE_LIKE, src)
    assert (tokens.access, tokens.refresh, tokens.expires_at, tokens.expiry_format) == (
        "at-old", "rt-old", 1_760_000_000.0, "ms"
    )
    out = with_tokens(CLAUDE_LIKE, src, "at-new", "rt-new", 1_800_000_000.0, "ms")
    assert out["claudeAiOauth"] == {
        "accessToken": "at-new",
        "refreshToken": "rt-new",
        "expiresAt": 1_800_000_000_000,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    assert out["mcpOAuth"] == CLAUDE_LIKE["mcpOAuth"]
    assert CLAUDE_LIKE["claudeAiOauth"]["accessToken"] == "at-old"  # the input is not changed


def test_missing_refresh_token_in_a_grant_keeps_the_old_one() -> None:
    out = with_tokens(CLAUDE_LIKE, source(), "at-new", None, None, "ms")
    assert out["claudeAiOauth"]["refreshToken"] == "rt-old"
    assert out["claudeAiOauth"]["expiresAt"] == 1_760_000_000_000


def test_empty_or_non_string_tokens_count_as_missing() -> None:
    tokens = tokens_of({"access_token": "  ", "refresh_token": 7}, OAuthAuth(type="oauth", file_path="x"))
    assert tokens.access is None and tokens.refresh is None and tokens.expires_at is None


def test_layout_of_the_original_is_kept() -> None:
    compact = json.dumps(CLAUDE_LIKE)
    assert b"\n" not in dump_like(CLAUDE_LIKE, compact)
    pretty = json.dumps(CLAUDE_LIKE, indent=2) + "\n"
    out = dump_like(CLAUDE_LIKE, pretty).decode()
    assert out.startswith("{\n  ") and out.endswith("}\n")


def test_write_is_private_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real" / "creds.json"
    real.parent.mkdir()
    real.write_text(json.dumps(CLAUDE_LIKE))
    real.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    doc, text = read_doc(link)
    write_doc(link, with_tokens(doc, source(), "at-new", "rt-new", None, "ms"), text)
    assert link.is_symlink()
    assert json.loads(real.read_text())["claudeAiOauth"]["accessToken"] == "at-new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert [p.name for p in real.parent.iterdir()] == ["creds.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), (b"\xff\xfe", "UTF-8")],
)
def test_unreadable_files_say_why(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "creds.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(TokenFileError, match=message):
        read_doc(path)
