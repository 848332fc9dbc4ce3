"""Parameters ccproxy writes on its own, and the upstream 400 that refuses one of them.

A translation adds settings the client never typed in the destination's terms (`reasoning_effort` for
Claude Code's `thinking`, `stream_options`, ...). Many models and OpenAI-compatible servers refuse
some of them with a 400 (`Unsupported parameter: 'reasoning_effort'`). The router retries once
without the refused one and remembers it for that provider and model (`RefusedParams`), so every
later request leaves it out from the start, with a warning on the flow.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Top-level body keys each destination format may get from a translation, in the order tried.
OPTIONAL: dict[str, tuple[str, ...]] = {
    "openai": ("reasoning_effort", "stream_options", "parallel_tool_calls"),
    "openai_responses": ("reasoning", "parallel_tool_calls"),
}

#: Words refusals of a parameter use: OpenAI, Azure, vLLM/pydantic, Rust (serde) servers.
_REFUSING = re.compile(
    r"unsupported (?:parameter|value)|unrecognized request argument|unknown (?:field|parameter|name)"
    r"|extra (?:fields|inputs) (?:are )?not permitted|is not (?:supported|permitted|allowed)",
    re.I,
)


def added_parameters(fmt: str, body: dict[str, Any]) -> tuple[str, ...]:
    """The optional keys this translated body carries: the ones a refusal may be retried without."""
    return tuple(k for k in OPTIONAL.get(fmt, ()) if k in body)


def refused_parameter(status: int, raw: bytes, sent: tuple[str, ...]) -> str | None:
    """The key of `sent` that this upstream error refuses, or None (any other error stays as it is)."""
    if status not in (400, 422) or not sent:
        return None
    try:
        doc: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        doc = raw.decode("utf-8", "replace")
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and isinstance(error.get("param"), str):
        top = str(error["param"]).split(".", 1)[0]
        if top in sent:
            return top
    text = str(error.get("message", "")) if isinstance(error, dict) else str(doc)
    if not _REFUSING.search(text):
        return None
    for key in sent:  # named as a word of its own, bare or quoted, alone or as `key.field`
        if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", text):
            return key
    return None


def without(body: bytes, key: str) -> bytes:
    """The JSON request body with `key` removed."""
    doc = json.loads(body)
    doc.pop(key, None)
    return json.dumps(doc, ensure_ascii=False).encode()


class RefusedParams:
    """What each provider/model refused once; per daemon, forgotten at restart (a model may change)."""

    def __init__(self) -> None:
        self._refused: dict[tuple[str, str], set[str]] = {}

    def learn(self, provider: str, model: str, key: str) -> None:
        self._refused.setdefault((provider, model), set()).add(key)

    def strip(self, provider: str, model: str, body: dict[str, Any]) -> list[str]:
        """Remove what this provider/model refused before; one warning per removed key."""
        warnings = []
        for key in sorted(self._refused.get((provider, model), ())):
            if body.pop(key, None) is not None:
                warnings.append(
                    f"{key} not sent: provider {provider!r} refused it for model {model!r} earlier"
                )
        return warnings
