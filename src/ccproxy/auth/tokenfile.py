"""A JSON token file shared with the user's own tools: read tokens at dot-paths, write new ones keeping siblings."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ccproxy.config.providers import OAuthAuth
from ccproxy.fileio import write_private

#: Epoch seconds stay below this until the year 5138; a larger expiry is in milliseconds.
MS_THRESHOLD = 100_000_000_000

ExpiryFormat = Literal["s", "ms", "iso", "s-str", "ms-str"]


class TokenFileError(ValueError):
    """The token file cannot be read or does not hold what the config says; the message names the path."""


@dataclass(frozen=True)
class Tokens:
    """What the file holds now; `expires_at` is seconds since the epoch, None when the file gives none."""

    access: str | None
    refresh: str | None
    expires_at: float | None
    expiry_format: ExpiryFormat


def get_path(doc: Any, path: str) -> Any:
    """`a.b.0.c` into nested mappings (and lists by index); None when any step is missing."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c`, creating missing mappings; every other key on the way is kept."""
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise TokenFileError(f"`{path}` runs through a value that is not a JSON object")
        if part not in node:
            node[part] = {}
        elif not isinstance(node[part], dict | list):
            raise TokenFileError(f"`{path}` runs through a value that is not a JSON object")
        node = node[part]
    if isinstance(node, list) and parts[-1].isdigit() and int(parts[-1]) < len(node):
        node[int(parts[-1])] = value
    elif isinstance(node, dict):
        node[parts[-1]] = value
    else:
        raise TokenFileError(f"`{path}` runs through a value that is not a JSON object")


def parse_expiry(value: Any) -> tuple[float | None, ExpiryFormat]:
    """Seconds since the epoch from a number (s or ms, detected), a numeric string, or ISO 8601."""
    if isinstance(value, bool) or value is None:
        return None, "s"
    if isinstance(value, int | float):
        return (value / 1000.0, "ms") if value > MS_THRESHOLD else (float(value), "s")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return (number / 1000.0, "ms-str") if number > MS_THRESHOLD else (number, "s-str")
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None, "s"
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp(), "iso"
    return None, "s"


def format_expiry(seconds: float, fmt: ExpiryFormat) -> int | str:
    """The expiry in the same shape the file used, so the tool that owns the file still reads it."""
    if fmt == "ms":
        return int(seconds * 1000)
    if fmt == "ms-str":
        return str(int(seconds * 1000))
    if fmt == "s-str":
        return str(int(seconds))
    if fmt == "iso":
        return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
    return int(seconds)


def read_doc(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed JSON object and its text (kept to match its layout on write-back)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenFileError(f"cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenFileError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise TokenFileError(f"{path} does not hold a JSON object")
    return doc, text


def tokens_of(doc: dict[str, Any], source: OAuthAuth) -> Tokens:
    access = get_path(doc, source.access_path)
    refresh = get_path(doc, source.refresh_path)
    expires_at, fmt = parse_expiry(get_path(doc, source.expiry_path)) if source.expiry_path else (None, "s")
    return Tokens(
        access=access if isinstance(access, str) and access.strip() else None,
        refresh=refresh if isinstance(refresh, str) and refresh.strip() else None,
        expires_at=expires_at,
        expiry_format=fmt,
    )


def with_tokens(
    doc: dict[str, Any],
    source: OAuthAuth,
    access: str,
    refresh: str | None,
    expires_at: float | None,
    fmt: ExpiryFormat,
) -> dict[str, Any]:
    """A copy of `doc` with the new tokens at their paths; a missing refresh or expiry leaves the old one."""
    out = copy.deepcopy(doc)
    set_path(out, source.access_path, access)
    if refresh:
        set_path(out, source.refresh_path, refresh)
    if expires_at is not None and source.expiry_path:
        set_path(out, source.expiry_path, format_expiry(expires_at, fmt))
    return out


def dump_like(doc: dict[str, Any], original: str) -> bytes:
    """Serialize with the original's indentation style and trailing newline."""
    indented = original.lstrip().startswith("{\n") or "\n " in original.strip()
    text = json.dumps(doc, indent=2 if indented else None, ensure_ascii=False)
    return (text + ("\n" if original.endswith("\n") else "")).encode("utf-8")


def write_doc(path: Path, doc: dict[str, Any], original: str) -> None:
    """Atomic write-back, 0600; a symlinked token file is replaced at its target, not at the link."""
    write_private(path.resolve(), dump_like(doc, original))
