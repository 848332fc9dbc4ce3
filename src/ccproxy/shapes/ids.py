"""Shape hook `regenerate_ids`: a captured envelope's ids must not repeat on every replayed request.

Request ids (a prompt id, a request id) get a fresh value per request. Session ids (also inside
nested metadata such as a JSON `metadata.user_id`) get a value derived from the live request's own
session, so one client session keeps one id and different sessions never share the captured one.
New values keep the old one's format (UUID, hex, letters/digits), and an id the shape repeats in a
header value is replaced there too, so body and headers stay consistent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.shapes import paths
from ccproxy.shapes.work import shape_work

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_ALPHABETS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MakeId = Callable[[str], str]
#: Shorter values are not ids; replacing them in headers could hit unrelated text.
MIN_ID_LENGTH = 8


class RegenerateIds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ids: list[str] = Field(
        default_factory=lambda: ["request_id", "user_prompt_id", "prompt_id", "metadata.request_id"],
        description="Body paths whose id is new on every request.",
    )
    session_ids: list[str] = Field(
        default_factory=lambda: ["metadata.user_id#session_id", "metadata.session_id", "session_id"],
        description="Body paths of session ids; `path#key` is `key` inside the JSON text or dict at `path`.",
    )
    headers: bool = Field(default=True, description="Replace the old ids where the shape's headers repeat them.")


def _stream(seed: bytes | None, n: int) -> bytes:
    if seed is None:
        return os.urandom(n)
    out, counter = b"", 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:n]


def format_like(old: str, seed: bytes | None = None) -> str:
    """A new id shaped like `old`; deterministic for a given `seed`, random without one."""
    rnd = _stream(seed, max(16, len(old)))
    if _UUID.match(old):
        new = str(uuid.UUID(bytes=rnd[:16], version=4))
        return new.upper() if old.isupper() else new
    if _HEX.match(old):
        new = rnd.hex()[: len(old)]
        return new.upper() if old.upper() == old and any(c.isalpha() for c in old) else new
    chars = []
    for ch, byte in zip(old, rnd, strict=False):
        alphabet = next((a for a in _ALPHABETS if ch in a), None)
        chars.append(alphabet[byte % len(alphabet)] if alphabet else ch)
    return "".join(chars)


def _replace_inside(value: Any, key: str, make: MakeId) -> tuple[Any, list[tuple[str, str]]]:
    """(new value, [(old, new)]) for `key` inside a dict, JSON text, or `<stem>_<id>` text."""
    if isinstance(value, dict):
        old = value.get(key)
        if isinstance(old, str) and old:
            value[key] = make(old)
            return value, [(old, value[key])]
        return value, []
    if not isinstance(value, str):
        return value, []
    if value.lstrip().startswith("{"):
        try:
            doc = json.loads(value)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            doc, pairs = _replace_inside(doc, key, make)
            spaced = '": ' in value or '", "' in value
            text = json.dumps(doc, ensure_ascii=False, separators=(", ", ": ") if spaced else (",", ":"))
            return (text if pairs else value), pairs
    stem = key.removesuffix("_id")
    pairs = []

    def sub(m: re.Match[str]) -> str:
        new = make(m.group(2))
        pairs.append((m.group(2), new))
        return m.group(1) + new

    text = re.sub(rf"({re.escape(stem)}_)([0-9A-Za-z-]{{{MIN_ID_LENGTH},}})", sub, value)
    return text, pairs


def _regenerate(body: dict[str, Any], spec: str, make: MakeId) -> list[tuple[str, str]]:
    path, _, key = spec.partition("#")
    changed: list[tuple[str, str]] = []
    for container, k in paths.locate(body, path):
        old = container[k]
        if key:
            container[k], pairs = _replace_inside(old, key, make)
            changed += pairs
        elif isinstance(old, str) and old:
            container[k] = make(old)
            changed.append((old, container[k]))
    return changed


@hook(reads=["request.body", "request.headers", "metadata.session_id"], writes=["request.body", "request.headers"],
      stage="shape", params=RegenerateIds)
def regenerate_ids(ctx: HookContext) -> None:
    """Fresh request ids, per-session session ids, in the shaped body and the headers that repeat them."""
    params = ctx.params if isinstance(ctx.params, RegenerateIds) else RegenerateIds()
    work = shape_work(ctx)
    session = ctx.meta.session_id or ctx.meta.conversation_id

    def per_session(old: str) -> str:
        seed = f"{session}\x00{old}".encode() if session else None
        return format_like(old, seed)

    changed: list[tuple[str, str]] = []
    for spec in params.request_ids:
        changed += _regenerate(work.body, spec, format_like)
    for spec in params.session_ids:
        changed += _regenerate(work.body, spec, per_session)
    if not params.headers:
        return
    swaps = [(old, new) for old, new in changed if len(old) >= MIN_ID_LENGTH and old != new]
    headers = ctx.flow.request.headers
    for name in list(dict.fromkeys(headers.keys())):
        values = headers.get_all(name)
        new_values = []
        for v in values:
            for old, new in swaps:
                v = v.replace(old, new)
            new_values.append(v)
        if new_values != values:
            headers.set_all(name, new_values)
