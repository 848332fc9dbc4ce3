"""Flows as an agent session: sessions -> conversations -> turns, subagents nested under the turn that spawned them.

A *session* is the client's own id (`.ccproxy.session_id`, else a session header). Within it a
*conversation* is the run of requests that resend one history (same first user message, see
`flows.conversation`); a turn *continues* the turn whose messages it extends, *retries* one it
repeats, or *forks* from an older one. A *subagent* is a conversation that starts while a turn of
another conversation of the session has a tool call pending (its tool result not yet sent), e.g.
Claude Code's Task/Agent tool: it is nested under that turn. Pure: works on `StoredFlow`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from ccproxy.store.conversation import conversation_id, first_user_text, parse_json
from ccproxy.store.stored_flow import StoredFlow, header

#: Tool names that start a subagent in the agent CLIs ccproxy knows.
AGENT_TOOLS = frozenset({"Task", "Agent", "dispatch_agent", "spawn_agent", "subagent"})
#: Request headers some clients put their session id in (checked after `.ccproxy.session_id`).
SESSION_HEADERS = ("x-claude-code-session-id", "session_id", "session-id", "x-session-id")
NO_SESSION = "(no session id)"
USAGE_KEYS = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_input_tokens",
              "cache_write": "cache_creation_input_tokens"}


@dataclass
class Turn:
    """One request of a conversation with what the tree shows about it."""

    flow: StoredFlow
    body: Any
    messages: list[Any]
    started: float
    ended: float
    session: str
    conversation: str
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    index: int = 0
    kind: str = "start"
    extends: int | None = None
    children: list[Conversation] = field(default_factory=list)

    def usage(self) -> dict[str, int]:
        raw = self.flow.ccproxy.get("usage") or {}
        return {k: int(raw.get(v) or 0) for k, v in USAGE_KEYS.items()}

    def to_json(self) -> dict[str, Any]:
        ccp, resp = self.flow.ccproxy, self.flow.doc.get("response") or {}
        return {
            "index": self.index, "flow_id": self.flow.id, "started": self.started, "model": ccp.get("model"),
            "status": resp.get("status_code"), "kind": self.kind, "extends": self.extends,
            "messages": len(self.messages), "usage": self.usage(), "duration_ms": ccp.get("duration_ms"),
            "ttfb_ms": ccp.get("ttfb_ms"), "error": ccp.get("error"), "stop_reason": ccp.get("stop_reason"),
            "streamed": bool(ccp.get("streamed")), "tool_uses": [t["name"] for t in self.tool_uses],
            "children": [c.to_json() for c in self.children],
        }


@dataclass
class Conversation:
    id: str
    session: str
    turns: list[Turn] = field(default_factory=list)
    parent: dict[str, Any] | None = None  # the spawning turn: flow_id, tool, tool_use_id

    @property
    def first_text(self) -> str:
        return first_user_text(self.turns[0].body) or ""

    def totals(self, nested: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"turns": 0, "errors": 0, "latency_ms": 0.0, **dict.fromkeys(USAGE_KEYS, 0)}
        for turn in self.turns:
            out["turns"] += 1
            out["errors"] += 1 if turn.flow.ccproxy.get("error") else 0
            out["latency_ms"] += float(turn.flow.ccproxy.get("duration_ms") or 0)
            for key, value in turn.usage().items():
                out[key] += value
            if nested:
                for child in turn.children:
                    for key, value in child.totals(nested=True).items():
                        out[key] += value
        out["latency_ms"] = round(out["latency_ms"], 3)
        return out

    def to_json(self) -> dict[str, Any]:
        models = list(dict.fromkeys(str(t.flow.ccproxy.get("model")) for t in self.turns if t.flow.ccproxy.get("model")))
        ttfb = [float(t.flow.ccproxy["ttfb_ms"]) for t in self.turns if t.flow.ccproxy.get("ttfb_ms") is not None]
        return {
            "id": self.id, "session_id": self.session, "title": _title(self.first_text), "subagent": self.parent,
            "model": models[-1] if models else None, "models": models, "first": self.turns[0].started,
            "last": self.turns[-1].started, "totals": self.totals(), "totals_with_subagents": self.totals(True),
            "ttfb_ms": {"first": ttfb[0] if ttfb else None, "max": max(ttfb) if ttfb else None},
            "turns": [t.to_json() for t in self.turns],
        }


def _title(text: str, width: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def request_body(flow: StoredFlow) -> Any:
    """The request as the client sent it (as forwarded when the client phase was not recorded)."""
    return parse_json(flow.body("client_request") or flow.body("request") or b"")


def messages_of(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        return []
    for key in ("messages", "input", "contents"):
        if isinstance(body.get(key), list):
            return list(body[key])
    return []


def session_of(flow: StoredFlow) -> str:
    ccp = flow.ccproxy
    if ccp.get("session_id"):
        return str(ccp["session_id"])
    client_headers = (ccp.get("client_request") or {}).get("headers")
    for name in SESSION_HEADERS:
        if value := header(client_headers, name) or header(flow.headers("request"), name):
            return value
    return NO_SESSION


def _key(message: Any) -> str:
    """A message's identity across turns: cache_control moves every turn and must not break the match."""
    text = json.dumps(message, sort_keys=True)
    if '"cache_control"' in text or (isinstance(message, dict) and isinstance(message.get("content"), str)):
        text = json.dumps(_strip(message), sort_keys=True)  # the slow path only for the messages that need it
    return hashlib.sha1(text.encode()).hexdigest()


def _strip(value: Any) -> Any:
    """Without `cache_control`, and a string `content` as the one text block it means."""
    if isinstance(value, dict):
        if isinstance(value.get("content"), str) and "role" in value:
            value = {**value, "content": [{"type": "text", "text": value["content"]}]}
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _tool_results(messages: Sequence[Any]) -> set[str]:
    """Ids of tool calls whose results a request sends (Anthropic, OpenAI Chat, Responses)."""
    ids: set[str] = set()
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        if msg.get("role") == "tool" and msg.get("tool_call_id"):
            ids.add(str(msg["tool_call_id"]))
        if msg.get("type") == "function_call_output" and msg.get("call_id"):
            ids.add(str(msg["call_id"]))
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id"):
                ids.add(str(block["tool_use_id"]))
    return ids


def _tool_uses(flow: StoredFlow) -> list[dict[str, Any]]:
    answer = flow.answer("client") or flow.answer("upstream")
    if answer is None:
        return []
    out = []
    for call in answer.tool_calls:
        try:
            args = json.loads(call.arguments) if call.arguments else {}
        except ValueError:
            args = {}
        out.append({"id": call.id, "name": call.name, "input": args})
    return out


def started_of(flow: StoredFlow) -> float:
    """When the client sent the flow (else when it was forwarded), seconds since the epoch."""
    ccp = flow.ccproxy
    return float((ccp.get("client_request") or {}).get("timestamp_start")
                 or (flow.doc.get("request") or {}).get("timestamp_start") or 0.0)


class Memo:
    """What a rebuild may reuse per flow (parsed bodies, prefix hashes, lint, diffs), for a long-lived caller
    such as the live viewer: stored flows do not change, and a flow written again under its id (a replay)
    has a new signature."""

    def __init__(self) -> None:
        self.data: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def sig(flow: StoredFlow) -> tuple[Any, ...]:
        ccp = flow.ccproxy
        return (flow.id, ccp.get("duration_ms"), (flow.doc.get("response") or {}).get("status_code"),
                len(flow.parts.get("client_request") or flow.parts.get("request") or b""))

    def get[T](self, kind: str, flows: Sequence[StoredFlow], make: Callable[[], T]) -> T:
        key = (kind, *(self.sig(f) for f in flows))
        if key not in self.data:
            self.data[key] = make()
        return cast(T, self.data[key])

    def keep(self, ids: set[str]) -> None:
        """Forget every entry about a flow not in `ids` (cleared, or out of the live window)."""
        self.data = {k: v for k, v in self.data.items() if all(part[0] in ids for part in k[1:])}


def memoized[T](memo: Memo | None, kind: str, flows: Sequence[StoredFlow], make: Callable[[], T]) -> T:
    """`make()`, through `memo` when there is one."""
    return memo.get(kind, flows, make) if memo is not None else make()


def _new_turn(flow: StoredFlow) -> Turn:
    body = request_body(flow)
    ccp = flow.ccproxy
    started = started_of(flow)
    ended = started + float(ccp.get("duration_ms") or 0) / 1000
    cid = ccp.get("conversation_id") or conversation_id(body) or f"flow-{flow.id[:8]}"
    messages = messages_of(body)
    return Turn(flow, body, messages, started, ended, session_of(flow), str(cid), _tool_uses(flow),
                _prefixes(messages))


def turn_of(flow: StoredFlow, memo: Memo | None = None) -> Turn:
    """A fresh Turn (its links unset); the parsed facts come from `memo` when it has them."""
    if memo is None:
        return _new_turn(flow)
    t = memo.get("turn", [flow], partial(_new_turn, flow))
    return Turn(t.flow, t.body, t.messages, t.started, t.ended, t.session, t.conversation, t.tool_uses, t.prefixes)


def _prefixes(messages: Sequence[Any]) -> list[str]:
    """A chained hash per message: entry k identifies the message list `messages[:k + 1]`."""
    out, running = [], hashlib.sha1()
    for msg in messages:
        running.update(_key(msg).encode())
        out.append(running.hexdigest())
    return out


def _link(conv: Conversation, turn: Turn, seen: dict[str, Turn]) -> None:
    """Number the turn and say which earlier turn of the conversation it continues, retries or forks from.

    `seen` maps each earlier turn's whole message list (as its last prefix hash) to the latest turn
    that sent it, so a turn is linked in time linear in its messages, not in the conversation's turns."""
    prefixes = turn.prefixes
    turn.index = len(conv.turns)
    whole = prefixes[-1] if prefixes else "empty"
    if whole in seen:
        turn.kind, turn.extends = "retry", seen[whole].index
    else:
        prev = next((seen[h] for h in reversed(prefixes[:-1]) if h in seen), None)
        if prev is None:
            turn.kind = "start" if not conv.turns else "restart"
        else:
            turn.extends = prev.index
            turn.kind = "continue" if prev is conv.turns[-1] else "fork"
    seen[whole] = turn


def _answered(conv: Conversation, until: float) -> set[str]:
    """Tool calls of `conv` whose results its turns sent up to `until`."""
    out: set[str] = set()
    for turn in conv.turns:
        if turn.started <= until:
            out |= _tool_results(turn.messages)
    return out


def _spawner(conv: Conversation, candidates: Sequence[Conversation]) -> tuple[Turn, dict[str, Any]] | None:
    """The turn of another conversation whose tool call was pending when `conv` started."""
    start = conv.turns[0]
    text = " ".join(conv.first_text.split())
    best: tuple[int, Turn, dict[str, Any]] | None = None
    for other in candidates:
        answered: set[str] | None = None
        for turn in other.turns:
            if turn.ended > start.started or not turn.tool_uses:
                continue
            answered = _answered(other, start.started) if answered is None else answered
            for use in turn.tool_uses:
                if use["id"] in answered:
                    continue
                prompt = " ".join(str((use["input"] or {}).get("prompt") or "").split())
                score = 2 if prompt and prompt == text else 1 if use["name"] in AGENT_TOOLS else 0
                if score and (best is None or (score, turn.started) >= (best[0], best[1].started)):
                    best = (score, turn, use)
    return (best[1], best[2]) if best else None


@dataclass
class Session:
    id: str
    conversations: list[Conversation]  # every conversation, by first turn
    top: list[Conversation]  # those no other conversation spawned

    def to_json(self) -> dict[str, Any]:
        totals: dict[str, Any] = {}
        for conv in self.top:
            for key, value in conv.totals(nested=True).items():
                totals[key] = round(totals.get(key, 0) + value, 3)
        return {"session_id": self.id, "first": self.conversations[0].turns[0].started,
                "last": max(c.turns[-1].started for c in self.conversations), "totals": totals,
                "conversations": [c.to_json() for c in self.top]}


def group(flows: Sequence[StoredFlow], memo: Memo | None = None) -> list[Session]:
    """Sessions (oldest activity first) with their conversations linked turn by turn and subagents nested."""
    turns = sorted((turn_of(f, memo) for f in flows), key=lambda t: (t.started, t.flow.id))
    by_session: dict[str, dict[str, Conversation]] = {}
    seen: dict[tuple[str, str], dict[str, Turn]] = {}
    for turn in turns:
        convs = by_session.setdefault(turn.session, {})
        conv = convs.setdefault(turn.conversation, Conversation(turn.conversation, turn.session))
        _link(conv, turn, seen.setdefault((turn.session, turn.conversation), {}))
        conv.turns.append(turn)
    out = []
    for session, convs in by_session.items():
        ordered = sorted(convs.values(), key=lambda c: c.turns[0].started)
        top: list[Conversation] = []
        for i, conv in enumerate(ordered):
            found = _spawner(conv, ordered[:i])
            if found is None:
                top.append(conv)
                continue
            parent, use = found
            conv.parent = {"flow_id": parent.flow.id, "conversation": parent.conversation, "turn": parent.index,
                           "tool": use["name"], "tool_use_id": use["id"]}
            parent.children.append(conv)
        out.append(Session(session, ordered, top))
    return sorted(out, key=lambda s: max(c.turns[-1].started for c in s.conversations))


def build_tree(flows: Sequence[StoredFlow]) -> list[dict[str, Any]]:
    """The JSON tree: sessions -> top-level conversations -> turns -> subagent conversations."""
    return [s.to_json() for s in group(flows)]


def walk(tree: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every conversation of a tree, depth first (subagents right after the turn that spawned them)."""
    out: list[dict[str, Any]] = []

    def visit(conv: dict[str, Any]) -> None:
        out.append(conv)
        for turn in conv["turns"]:
            for child in turn["children"]:
                visit(child)

    for session in tree:
        for conv in session["conversations"]:
            visit(conv)
    return out
