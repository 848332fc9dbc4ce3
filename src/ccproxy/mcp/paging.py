"""Bounded answers: long text comes back one page at a time, with a marker that says how to go on.

An agent's context window is the budget; a 2 MB request body must not land in it whole. Every
tool that can return long text cuts it at `max_chars` and ends the page with a marker naming the
tool call (and `offset`) that fetches the next page.
"""

from __future__ import annotations

from ccproxy.errors import UsageError

DEFAULT_PAGE = 20_000
MAX_PAGE = 100_000
DEFAULT_PREVIEW = 2_000


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
    end = min(total, offset + size)
    page = text[offset:end]
    if offset:
        page = f"[ccproxy: chars {offset}-{end} of {total}]\n" + page
    if end < total:
        return page + marker(call, end, total), end
    return page, None


def page(text: str, offset: int, max_chars: int, call: str) -> str:
    """Just the page text of `cut`."""
    return cut(text, offset, max_chars, call)[0]
