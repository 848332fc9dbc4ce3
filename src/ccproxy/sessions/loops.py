"""Is an agent stuck? Read off one request body: its history already holds every tool call and result.

An agent resends its whole conversation each turn, so one request is enough to see a loop, and the
check needs no memory across requests (it holds after a daemon restart): the same tool call with the
same arguments again and again, the same error coming back again and again, assistant turns that
say nothing they had not said before. Wire formats differ only in where calls and results sit;
`history` reads the four ccproxy speaks into one list of steps.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

#: Words that make a tool result without an error flag read as one (looked for in its first 400 characters).
_ERRORISH = ("error", "exception", "traceback", "failed", "not found", "no such file", "denied")
#: How much of a call or result a finding quotes.
QUOTE = 160


@dataclass(frozen=True)
class Step:
    """One tool call (`call`), its result (`result`), or what an assistant turn said (`say`)."""

    kind: str
    text: str
    error: bool = False


@dataclass
class Finding:
    """One pattern at or over its limit."""

    rule: str  # repeated_call | repeated_error | no_progress | session_tokens | hourly_tokens
    count: int
    limit: int
    what: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        return {
            "repeated_call": f"the tool call {self.what} was made {self.count} times (limit {self.limit})",
            "repeated_error": f"the same tool error came back {self.count} times (limit {self.limit}): {self.what}",
            "no_progress": f"the last {self.count} assistant turns added nothing new (limit {self.limit})",
            "session_tokens": f"this session sent ~{self.count} input tokens (budget {self.limit})",
            "hourly_tokens": f"this session sent ~{self.count} input tokens in the last hour (budget {self.limit})",
        }.get(self.rule, f"{self.rule}: {self.count} (limit {self.limit})")


def _canon(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text(c) for c in content)
    if isinstance(content, dict):
        for key in ("text", "output", "content", "result", "response"):
            if key in content:
                return _text(content[key])
        return _canon(content)
    return "" if content is None else str(content)


def _result(content: Any, flagged: bool = False) -> Step:
    text = _text(content)
    if not flagged:
        head = text[:400].lower()
        flagged = any(word in head for word in _ERRORISH)
    return Step("result", text, flagged)


def _anthropic(body: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        said: list[str] = []
        for b in blocks if isinstance(blocks, list) else []:
            kind = b.get("type") if isinstance(b, dict) else None
            if kind == "tool_use":
                steps.append(Step("call", f"{b.get('name')}({_canon(b.get('input'))})"))
                said.append(steps[-1].text)
            elif kind == "tool_result":
                steps.append(_result(b.get("content"), bool(b.get("is_error"))))
            elif kind == "text":
                said.append(str(b.get("text") or ""))
        if isinstance(msg, dict) and msg.get("role") == "assistant":
            steps.append(Step("say", "|".join(said)))
    return steps


def _openai(body: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        if msg.get("role") == "assistant":
            calls = [f"{(c.get('function') or {}).get('name')}({_canon((c.get('function') or {}).get('arguments'))})"
                     for c in msg.get("tool_calls") or [] if isinstance(c, dict)]
            steps += [Step("call", c) for c in calls]
            steps.append(Step("say", _text(msg.get("content")) + "|" + "|".join(calls)))
        elif msg.get("role") == "tool":
            steps.append(_result(msg.get("content")))
    return steps


def _responses(body: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    items = body.get("input")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            steps.append(Step("call", f"{item.get('name')}({_canon(item.get('arguments'))})"))
        elif kind == "function_call_output":
            steps.append(_result(item.get("output")))
        elif item.get("role") == "assistant":
            steps.append(Step("say", _text(item.get("content"))))
    return steps


def _gemini(body: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    for content in body.get("contents") or []:
        parts = content.get("parts") if isinstance(content, dict) else None
        said = []
        for p in parts if isinstance(parts, list) else []:
            call = p.get("functionCall") or p.get("function_call") if isinstance(p, dict) else None
            answer = p.get("functionResponse") or p.get("function_response") if isinstance(p, dict) else None
            if isinstance(call, dict):
                steps.append(Step("call", f"{call.get('name')}({_canon(call.get('args'))})"))
                said.append(steps[-1].text)
            elif isinstance(answer, dict):
                steps.append(_result(answer.get("response")))
            elif isinstance(p, dict) and "text" in p:
                said.append(str(p["text"]))
        if isinstance(content, dict) and content.get("role") == "model":
            steps.append(Step("say", "|".join(said)))
    return steps


READERS = {"anthropic": _anthropic, "openai": _openai, "openai_responses": _responses, "gemini": _gemini}


def history(body: Any, fmt: str) -> list[Step]:
    """The tool calls, results and assistant turns of a request body, oldest first."""
    reader = READERS.get(fmt)
    return reader(body) if reader is not None and isinstance(body, dict) else []


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


def find_loops(steps: list[Step], repeat_calls: int, repeat_errors: int, stale_turns: int) -> list[Finding]:
    """Patterns at or over their limits (a limit of 0 turns its rule off)."""
    found: list[Finding] = []
    calls = [s.text for s in steps if s.kind == "call"]
    if repeat_calls and calls:
        last = calls[-1]
        count = calls.count(last)
        if count >= repeat_calls:
            found.append(Finding("repeated_call", count, repeat_calls, _quote(last)))
    errors = [s.text for s in steps if s.kind == "result" and s.error]
    if repeat_errors and errors:
        text, count = Counter(errors).most_common(1)[0]
        if count >= repeat_errors:
            found.append(Finding("repeated_error", count, repeat_errors, _quote(text)))
    if stale_turns:
        said = [s.text for s in steps if s.kind == "say"]
        stale = 0
        for i in range(len(said) - 1, -1, -1):
            if said[i] not in said[:i]:
                break
            stale += 1
        if stale >= stale_turns:
            found.append(Finding("no_progress", stale, stale_turns, ""))
    return found


def estimate_tokens(body: bytes) -> int:
    """Input tokens a request body holds, estimated (about four bytes a token for JSON-wrapped prose)."""
    return len(body) // 4
