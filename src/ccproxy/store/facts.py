"""Per-flow session facts: what the session views need of a flow, computed once when the writer stores it.

Why: `flows tree|cache|lint`, the live viewer and the MCP session tools used to parse every request
body of the set on every call, and an agent re-sends its whole conversation each turn, so their cost
grew with the square of a session. `facts_of` reads a flow's bodies once, in the writer process, and
keeps the little the views need: timings, model and usage, the session and conversation, a chained
hash per message (how turns link: continue, retry, fork), tool calls and the tool results it sends
(how subagents nest), cache breakpoints and TTL, and the stream lint verdict. The views read these
rows; bodies are read only when a user opens a flow, or a command needs bytes.

`Facts` is versioned (`FACTS_VERSION`): a change to what `facts_of` computes bumps it, and the store
recomputes older rows from the stored bodies (`FlowStore.refresh_facts`). To add a fact, add a field
with a default and bump the version.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ccproxy.store.conversation import parse_json
from ccproxy.store.lint import lint_events, summary
from ccproxy.store.msgfacts import HASH_BYTES, RECENT_LISTS, body_facts
from ccproxy.store.stored_flow import StoredFlow, header
from ccproxy.wire import codeassist

FACTS_VERSION = 1
#: Request headers some clients put their session id in (checked after `.ccproxy.session_id`).
SESSION_HEADERS = ("x-claude-code-session-id", "session_id", "session-id", "x-session-id")
NO_SESSION = "(no session id)"
TITLE_WIDTH = 80

#: Per flow, what the session views read instead of its bodies (the store writes it with the flow); gone with its flow.
FACTS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS facts (
        flow_id TEXT PRIMARY KEY REFERENCES flows (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        data BLOB NOT NULL,
        prefixes BLOB,
        results BLOB
    )""",
)


@dataclass
class ToolUse:
    id: str | None
    name: str
    #: sha1 of the call's `prompt` argument, whitespace-normalised (None without one): a subagent whose
    #: first message is that prompt was spawned by this call.
    prompt_key: str | None = None


@dataclass
class Facts:
    """One flow as the session views see it. `prefixes` and `tool_results` are packed `HASH_BYTES` hashes."""

    id: str
    session: str
    conversation: str
    started: float
    ended: float
    model: str | None = None
    status: int | None = None
    usage: dict[str, Any] | None = None
    duration_ms: float | None = None
    ttfb_ms: float | None = None
    error: str | None = None
    stop_reason: str | None = None
    streamed: bool = False
    transform: bool = False  # translated between wire formats (lint reads the sides apart)
    messages: int = 0
    title: str = ""  # the first user message, one line, cut at TITLE_WIDTH
    first_key: str | None = None  # sha1 of the whole first user message, whitespace-normalised
    tool_uses: list[ToolUse] = field(default_factory=list)
    breakpoints: list[str] = field(default_factory=list)
    ttl: float = 300.0
    lint: dict[str, Any] | None = None  # `sessions_api.lint_flow`'s verdict, None when nothing streamed
    prefixes: bytes = b""  # entry k identifies the message list messages[:k + 1]
    tool_results: bytes = b""  # ids of the tool calls whose results this request sends
    version: int = FACTS_VERSION

    def prefix(self, k: int) -> bytes:
        return self.prefixes[k * HASH_BYTES : (k + 1) * HASH_BYTES]

    def results(self) -> set[bytes]:
        data = self.tool_results
        return {data[i : i + HASH_BYTES] for i in range(0, len(data), HASH_BYTES)}

    # -- storage: a small JSON doc plus the two packed hash columns ------------------------------
    def pack(self) -> tuple[bytes, bytes, bytes]:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _PACKED}
        doc["tool_uses"] = [asdict(t) for t in self.tool_uses]
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        return zlib.compress(text, 1), self.prefixes, self.tool_results

    @classmethod
    def unpack(cls, data: bytes, prefixes: bytes | None, tool_results: bytes | None) -> Facts:
        doc = json.loads(zlib.decompress(data))
        known = {f.name for f in fields(cls)}
        doc = {k: v for k, v in doc.items() if k in known}
        doc["tool_uses"] = [ToolUse(**t) for t in doc.get("tool_uses") or []]
        return cls(**doc, prefixes=bytes(prefixes or b""), tool_results=bytes(tool_results or b""))


_PACKED = ("prefixes", "tool_results", "tool_uses")


# -- reading a flow's bodies (only here, and only once per flow) -----------------------------------

def request_body(flow: StoredFlow) -> Any:
    """The request as the client sent it (as forwarded when the client phase was not recorded); a Code Assist
    envelope is opened: turns, cache and diffs read the Gemini request inside."""
    return codeassist.unwrap_request(parse_json(flow.body("client_request") or flow.body("request") or b""))


def session_of(flow: StoredFlow) -> str:
    ccp = flow.ccproxy
    if ccp.get("session_id"):
        return str(ccp["session_id"])
    client_headers = (ccp.get("client_request") or {}).get("headers")
    for name in SESSION_HEADERS:
        if value := header(client_headers, name) or header(flow.headers("request"), name):
            return value
    return NO_SESSION


def started_of(flow: StoredFlow) -> float:
    """When the client sent the flow (else when it was forwarded), seconds since the epoch."""
    ccp = flow.ccproxy
    return float((ccp.get("client_request") or {}).get("timestamp_start")
                 or (flow.doc.get("request") or {}).get("timestamp_start") or 0.0)


def text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


def tool_uses_of(flow: StoredFlow) -> list[ToolUse]:
    answer = flow.answer("client") or flow.answer("upstream")
    if answer is None:
        return []
    out = []
    for call in answer.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
        except ValueError:
            args = {}
        prompt = str((args if isinstance(args, dict) else {}).get("prompt") or "") if args else ""
        out.append(ToolUse(call.id, call.name, text_key(prompt) if prompt.split() else None))
    return out


def lint_flow(flow: StoredFlow) -> dict[str, Any] | None:
    """Both sides of one flow's stream checked against their grammars; None when nothing was streamed."""
    up, client = flow.events("upstream"), flow.events("client")
    if not up and not client:
        return None
    up_lint = lint_events(up) if up else None
    client_lint = lint_events(client) if client else None
    return {
        "flow_id": flow.id,
        "transform": _transformed(flow.ccproxy),
        "upstream": up_lint.to_json() if up_lint else None,
        "client": client_lint.to_json() if client_lint else None,
        "valid": all(x.valid for x in (up_lint, client_lint) if x is not None),
        "summary": summary(up_lint, client_lint),
    }


def _transformed(ccp: Mapping[str, Any]) -> bool:
    transform = ccp.get("transform") or {}
    return bool(transform.get("from_format") and transform.get("from_format") != transform.get("to_format"))


def title_of(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_WIDTH else line[: TITLE_WIDTH - 1] + "…"


def facts_of(doc: dict[str, Any], parts: Mapping[str, bytes]) -> Facts:
    """The facts of one stored flow (its masked JSON doc and its parts): the one place bodies are read for
    the session views. Pure; called by the store when it writes a flow and when it upgrades old rows."""
    flow = StoredFlow(doc, dict(parts))
    ccp, resp = flow.ccproxy, doc.get("response") or {}
    raw = _model_request(doc, flow.body("client_request") or flow.body("request") or b"")
    read = RECENT_LISTS.read(raw)
    marks, ttl = body_facts(read.sections(), read.key, read.facts, raw)
    started = started_of(flow)
    first = read.first_text() or ""
    return Facts(
        id=flow.id,
        session=session_of(flow),
        conversation=str(ccp.get("conversation_id") or _conversation_id(first) or f"flow-{flow.id[:8]}"),
        started=started,
        ended=started + float(ccp.get("duration_ms") or 0) / 1000,
        model=ccp.get("model"),
        status=resp.get("status_code"),
        usage=ccp.get("usage") if isinstance(ccp.get("usage"), dict) else None,
        duration_ms=ccp.get("duration_ms"),
        ttfb_ms=ccp.get("ttfb_ms"),
        error=ccp.get("error"),
        stop_reason=ccp.get("stop_reason"),
        streamed=bool(ccp.get("streamed")),
        transform=_transformed(ccp),
        messages=len(read.facts),
        title=title_of(first),
        first_key=text_key(first) if first else None,
        tool_uses=tool_uses_of(flow),
        breakpoints=marks,
        ttl=ttl,
        lint=lint_flow(flow),
        prefixes=read.prefixes,
        tool_results=b"".join(dict.fromkeys(r for m in read.facts for r in m.results)),
    )


def _model_request(doc: dict[str, Any], raw: bytes) -> bytes:
    """The request the model reads: gemini-cli's Code Assist envelope opened (its Gemini request inside)."""
    if not codeassist.call_of(str((doc.get("request") or {}).get("path") or "")):
        return raw
    body = parse_json(raw)
    return json.dumps(codeassist.unwrap_request(body)).encode() if codeassist.is_request(body) else raw


def _conversation_id(first: str) -> str | None:
    """`conversation.conversation_id` of a body whose first user text is `first`."""
    return hashlib.sha256(first.encode("utf-8")).hexdigest()[:16] if first else None


def stored_facts(doc: dict[str, Any], parts: Mapping[str, bytes]) -> Facts:
    """`facts_of`, never raising: a body no view can read still stores its flow, with the doc's facts."""
    try:
        return facts_of(doc, parts)
    except Exception:
        return facts_of(doc, {})
