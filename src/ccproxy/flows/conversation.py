"""Facts read from a request body in any wire format: the model and the conversation it belongs to.

A conversation id is a hash of the first user message's text, so every turn of one conversation
(each turn resends the history) gets the same id, whatever wire format carried it. Two
conversations that open with the very same words share an id; `session_id` tells them apart
when the client sends one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_GEMINI_MODEL = re.compile(r"/models/([^/:?]+)")


def _text_of(content: Any) -> str:
    """The text of a message's content in any format: a string, or a list of parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return _text_of(content.get("text") or content.get("parts") or content.get("content") or "")
    if isinstance(content, list):
        return "\n".join(t for t in (_text_of(part) for part in content) if t)
    return ""


def first_user_text(body: Any) -> str | None:
    """The first user message's text: Anthropic/OpenAI `messages`, Responses `input`, Gemini `contents`."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("input"), str):
        return str(body["input"])
    for key in ("messages", "input", "contents"):
        items = body.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("role") == "user":
                text = _text_of(item.get("content") if "content" in item else item.get("parts"))
                if text:
                    return text
    return None


def conversation_id(body: Any) -> str | None:
    """16 hex characters of sha256 over the first user message's text, or None without one."""
    text = first_user_text(body)
    if not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_json(body: bytes) -> Any:
    """A request or response body as JSON, or None."""
    if not body or body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def model_of(body: Any, path: str = "") -> str | None:
    """The model a request asked for: the body's `model`, else a Gemini path's `/models/<name>`."""
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    m = _GEMINI_MODEL.search(path.split("?", 1)[0])
    return m.group(1) if m else None
