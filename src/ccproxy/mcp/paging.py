"""Bounded answers: long text comes back one page at a time, with a marker that says how to go on.

An agent's context window is the budget; a 2 MB request body must not land in it whole. Every
tool that can return long text cuts it at `max_chars` and ends the page with a marker naming the
tool call (and `offset`) that fetches the next page.
"""

from __future__ import annotations

import json
from typing import Any

from ccproxy.errors import UsageError

DEFAULT_PAGE = 20_000
MAX_PAGE = 100_000
DEFAULT_PREVIEW = 2_000
#: Bytes (UTF-8) of one tool answer, whatever the tool: an answer over 1 MiB broke MCP clients.
ANSWER_CAP = 256 * 1024
#: Bytes of one page of text; leaves room under ANSWER_CAP for the markers.
PAGE_BYTES = 240 * 1024
#: Characters of one string field in a structured answer (a header value, an error) before it is cut.
FIELD_CAP = 4_000


def clamp(max_chars: int, default: int = DEFAULT_PAGE) -> int:
    """A page size within [1, MAX_PAGE]; 0 or less means the default."""
    return default if max_chars <= 0 else min(max_chars, MAX_PAGE)


def marker(call: str, end: int, total: int) -> str:
    return (
        f"\n…[ccproxy: truncated at char {end} of {total}; {total - end} more. "
        f"Call {call}, offset={end}) for the next page]"
    )


def cut(text: str, offset: int, max_chars: int, call: str) -> tuple[str, int | None]:
    """Text[offset:offset+max_chars] plus a continuation marker; also the next offset (None at the end).

    `call` is the tool call without its closing parenthesis, e.g. `get_request_body(id="ab12"`."""
    total = len(text)
    if offset < 0:
        raise UsageError(f"offset must be 0 or more, got {offset}")
    if offset and offset >= total:
        raise UsageError(f"offset {offset} is past the end: the text has {total} characters")
    size = clamp(max_chars)
    end = _fit(text, offset, min(total, offset + size))
    page = text[offset:end]
    if offset:
        page = f"[ccproxy: chars {offset}-{end} of {total}]\n" + page
    if end < total:
        return page + marker(call, end, total), end
    return page, None


def page(text: str, offset: int, max_chars: int, call: str) -> str:
    """Just the page text of `cut`."""
    return cut(text, offset, max_chars, call)[0]


def _fit(text: str, offset: int, end: int) -> int:
    """Pull `end` back until text[offset:end] is at most PAGE_BYTES in UTF-8 (non-ASCII is up to 4 each)."""
    while end - offset > 1:
        size = len(text[offset:end].encode("utf-8", "surrogatepass"))
        if size <= PAGE_BYTES:
            break
        end = offset + max(1, (end - offset) * PAGE_BYTES // size)
    return end


def shorten_fields(doc: Any, more: str, limit: int = FIELD_CAP) -> Any:
    """`doc` with every string longer than `limit` cut, ending in a marker that says where the rest is.

    `more` completes the marker's sentence, e.g. 'get_flow(id="ab12", full=true) pages the whole flow'."""
    if isinstance(doc, str):
        if len(doc) <= limit:
            return doc
        return doc[:limit] + f"…[ccproxy: field cut at char {limit} of {len(doc)}; {more}]"
    if isinstance(doc, dict):
        return {k: shorten_fields(v, more, limit) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [shorten_fields(v, more, limit) for v in doc]
    return doc


def cap_answer(text: str, cap: int = ANSWER_CAP) -> str:
    """The last guard on every tool answer: at most `cap` bytes, cut with a marker saying how to narrow it."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= cap:
        return text
    kept = data[: cap - 512].decode("utf-8", "ignore")
    return kept + (
        f"\n…[ccproxy: answer cut at char {len(kept)} of {len(text)}: one answer holds at most {cap} bytes. "
        "Narrow the set with `jq` (e.g. '.[-10:]') or a smaller `limit`; page long text with "
        "`offset`/`max_chars`; get_flow(id=..., full=true, offset=...) pages a whole flow]"
    )


def as_text(result: Any) -> Any:
    """Structured answers as one line of JSON: the SDK's indented form spends an agent's tokens on blanks."""
    return json.dumps(result, ensure_ascii=False, default=str) if isinstance(result, (dict, list)) else result


def answer(result: Any) -> str:
    """A tool's result as the text the agent gets, never over the answer cap."""
    return cap_answer(str(as_text(result)))
