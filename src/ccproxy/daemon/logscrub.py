"""Log records without flow content: what `ccproxy.log` and the terminal get from any logger.

ccproxy's own messages never format a credential, but third-party code does not know that: tornado
logs an uncaught handler error with the request's repr, mitmproxy logs "Addon error: {exc}" and the
unread bytes of a half-sent request, and an exception's message may quote a whole flow (its headers,
the client's own API key, the prompt). So every record goes through one formatter that
- keeps a message up to the first repr of an object or a bytes literal (that is where flow
  content starts), and bounds its length;
- masks anything shaped like a credential (API keys, bearer tokens, `name: value` pairs whose
  name says key/token/secret/password/cookie/authorization, JWTs) and every sentinel key;
- prints an exception as its type, that same scrubbed message and the stack frames, never locals.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

from ccproxy.scrub import MASK, mask_credentials

__all__ = ["MASK", "WITHHELD", "ScrubbingFormatter", "format_exception", "mask_credentials", "scrub"]

WITHHELD = "[flow content withheld]"

#: A record's message and an exception's message are cut at this many characters.
MAX_MESSAGE = 2000
MAX_EXCEPTION_MESSAGE = 500

#: Where a repr starts: `Name(field=`, `Headers[`, `b'...'`/`b"..."`, `<HTTPFlow ...`.
_REPR = re.compile(
    r"""\b[A-Z][A-Za-z0-9_]*\((?=[a-z_][a-z0-9_]*=)"""  # a dataclass or a tornado request
    r"""|\b(?:HTTPFlow|Request|Response|Headers|ClientRequest|FlowMeta|UpstreamResponse)[(\[]"""
    r"""|(?<![\w])b['"]|\{['"]|<[A-Za-z.]*(?:Flow|Request|Response)\b"""
)


def scrub(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message safe for the log: cut at the first repr, bounded, credentials masked."""
    found = _REPR.search(text)
    if found:
        text = text[: found.start()] + WITHHELD
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters cut]"
    return mask_credentials(text)


def _exception_message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not take the log record with it
        text = "<unprintable message>"
    return scrub(text, MAX_EXCEPTION_MESSAGE)


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and its causes, oldest first, each with the sentence Python prints after it."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another exception occurred:"
        else:
            current = None
    return chain[::-1]


def format_exception(exc: BaseException, tb: TracebackType | None = None) -> str:
    """Type, scrubbed message and stack frames of `exc` and its causes; no locals, no reprs."""
    lines: list[str] = []
    chain = _chain(exc)
    for item, link in chain:
        frames = traceback.extract_tb(tb if item is exc and tb is not None else item.__traceback__)
        if frames:
            lines.append("Traceback (most recent call last):\n")
            lines.extend(frames.format())
        name = type(item).__qualname__
        module = type(item).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        message = _exception_message(item)
        lines.append(f"{name}: {message}\n" if message else f"{name}\n")
        if isinstance(item, BaseExceptionGroup):
            lines.append(f"  ({len(item.exceptions)} sub-exceptions: "
                         f"{', '.join(type(e).__name__ for e in item.exceptions)})\n")
        if link:  # the sentence that leads to the newer exception printed next
            lines.append(f"\n{link}\n\n")
    return "".join(lines).rstrip("\n")


class ScrubbingFormatter(logging.Formatter):
    """A `logging.Formatter` whose output holds no flow content (see the module docstring).

    It never reuses `record.exc_text`, which another handler's formatter may have filled unscrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: say so rather than dropping the record
            message = f"{record.msg!s} (log arguments did not fit)"
        record.message = scrub(message)
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + format_exception(record.exc_info[1], record.exc_info[2])
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text
