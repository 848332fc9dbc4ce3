"""An upstream with no capacity, in any wire format, and what to try next (pure).

The signals: Gemini 429/503 `RESOURCE_EXHAUSTED` / `UNAVAILABLE` (`MODEL_CAPACITY_EXHAUSTED`,
"model is overloaded"), Anthropic 529 `overloaded_error`, OpenAI 503 `server_is_overloaded`, and
any 429 (a rate limit: the same model later, or another one now). The delay an answer asks for is
`retry-after` (seconds or an HTTP date) or Gemini's `error.details[].RetryInfo.retryDelay`.
`decide` walks the policy: the same model a few times while its delay is short, then the
fallback models in order; a delay above the terminal threshold or the spent budget ends the walk.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

CAPACITY_STATUSES = frozenset({429, 503, 529})
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_IN = re.compile(r"[Pp]lease retry in (\d+(?:\.\d+)?)(ms|s)\b")


@dataclass(frozen=True)
class Signal:
    """A capacity answer: its status, the reason the body names, the delay it asks for (None: none)."""

    status: int
    reason: str
    delay: float | None


@dataclass(frozen=True)
class Policy:
    """The fallback policy (the `capacity_fallback` hook's params, in seconds)."""

    fallback_models: tuple[str, ...] = ()
    sticky_retry_attempts: int = 1
    sticky_retry_max_delay_seconds: float = 10.0
    terminal_delay_threshold_seconds: float = 300.0
    total_retry_budget_seconds: float = 60.0


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def _error_of(doc: Any) -> dict[str, Any]:
    if isinstance(doc, list) and doc:
        doc = doc[0]
    err = doc.get("error") if isinstance(doc, dict) else None
    return err if isinstance(err, dict) else {}


def reason_of(error: dict[str, Any]) -> str:
    """The most specific name the error gives: a detail's `reason`, else `status`/`type`/`code`."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    for key in ("status", "type", "code"):
        if error.get(key):
            return str(error[key])
    return ""


def body_delay(error: dict[str, Any]) -> float | None:
    """Gemini's `RetryInfo.retryDelay` ("1.5s"), else a "Please retry in 2.3s" in the message."""
    for detail in error.get("details") or []:
        is_retry_info = isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo")
        if is_retry_info and (m := _SECONDS.match(str(detail.get("retryDelay", "")))):
            return float(m.group(1))
    if m := _RETRY_IN.search(str(error.get("message", ""))):
        return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    return None


def header_delay(value: str | None, now: float | None = None) -> float | None:
    """`retry-after`: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def signal(status: int, retry_after: str | None, body: bytes) -> Signal | None:
    """The capacity signal an answer carries, or None (any other answer, success included)."""
    if status not in CAPACITY_STATUSES:
        return None
    error = _error_of(_body(body))
    delay = body_delay(error)
    if delay is None:
        delay = header_delay(retry_after)
    return Signal(status, reason_of(error) or str(status), delay)


Step = Literal["retry", "next", "stop"]


@dataclass(frozen=True)
class Decision:
    step: Step
    wait: float = 0.0
    why: str = ""


def decide(policy: Policy, sticky: bool, delay: float | None, spent: float) -> Decision:
    """After a capacity answer: wait and try the candidate, move to the next one, or stop.

    `sticky`: the candidate is the same model again; `spent`: seconds since the first attempt."""
    wait = delay or 0.0
    if wait > policy.terminal_delay_threshold_seconds:
        return Decision("stop", why=f"asks to wait {wait:g}s, above terminal_delay_threshold_seconds")
    if sticky and wait > policy.sticky_retry_max_delay_seconds:
        return Decision("next", why=f"asks to wait {wait:g}s, above sticky_retry_max_delay_seconds")
    wait = wait if sticky else 0.0  # another model does not inherit this one's delay
    if spent + wait > policy.total_retry_budget_seconds:
        return Decision("stop", why="total_retry_budget_seconds spent")
    return Decision("retry", wait)


def candidates(policy: Policy, model: str) -> list[tuple[str, bool]]:
    """(model, sticky) in the order tried after the first answer: the same model, then the fallbacks."""
    out = [(model, True)] * max(0, policy.sticky_retry_attempts)
    return out + [(m, False) for m in policy.fallback_models if m != model]


def split_candidate(candidate: str, providers: Sequence[str], current: str | None) -> tuple[str | None, str]:
    """`provider/model` when the prefix names a configured provider, else a model of the current one."""
    head, sep, tail = candidate.partition("/")
    if sep and head in providers:
        return head, tail
    return current, candidate
