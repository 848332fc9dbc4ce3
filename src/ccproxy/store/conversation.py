"""Facts read from a request body in any wire format: the model and the conversation it belongs to.

A conversation id is a hash of the first user message's text, so every turn of one conversation
(each turn resends the history) gets the same id, whatever wire format carried it. Two
conversations that open with the very same words share an id; `session_id` tells them apart
when the client sends one. `conversations` groups stored flow JSON by that id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from ccproxy.store.times import iso
from ccproxy.wire import codeassist

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


def inner_request(body: Any) -> Any:
    """The request the model reads: a Code Assist envelope's Gemini request, any other body itself."""
    return codeassist.unwrap_request(body)
text_of = _text_of


def first_user_text(body: Any) -> str | None:
    """The first user message's text: Anthropic/OpenAI `messages`, Responses `input`, Gemini `contents`."""
    body = inner_request(body)
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
    if codeassist.is_request(body):
        return codeassist.request_model(body)
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    m = _GEMINI_MODEL.search(path.split("?", 1)[0])
    return m.group(1) if m else None


#: A group lists at most this many flow ids (the newest), so one long conversation stays small.
MAX_GROUP_IDS = 50


def _started(doc: dict[str, Any]) -> str | None:
    """When the client sent the flow (else when it was forwarded), as ISO 8601 UTC."""
    ccp, req = doc.get("ccproxy") or {}, doc.get("request") or {}
    started = (ccp.get("client_request") or {}).get("timestamp_start") or req.get("timestamp_start")
    return iso(started) if started else None


def _add_usage(total: dict[str, int], usage: Any) -> None:
    if isinstance(usage, dict):
        for key, value in usage.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value


def conversations(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flow JSON docs grouped by `.ccproxy.conversation_id`, ordered by their latest flow (oldest first).

    Each group: flow count and ids, first/last start, models, sessions, status counts, summed
    usage. Flows without a conversation id (no user message in the body) are left out."""
    groups: dict[str, dict[str, Any]] = {}
    for doc in docs:
        ccp = doc.get("ccproxy") or {}
        cid = ccp.get("conversation_id")
        if not cid:
            continue
        started = _started(doc)
        group = groups.setdefault(cid, {
            "conversation_id": cid, "flows": 0, "flow_ids": [], "first": started, "last": None,
            "models": [], "sessions": [], "statuses": {}, "usage": {},
        })
        group["flows"] += 1
        group["flow_ids"].append(doc.get("id"))
        group["last"] = started
        for key, value in (("models", ccp.get("model")), ("sessions", ccp.get("session_id"))):
            if value and value not in group[key]:
                group[key].append(value)
        status = str((doc.get("response") or {}).get("status_code") or "error")
        group["statuses"][status] = group["statuses"].get(status, 0) + 1
        _add_usage(group["usage"], ccp.get("usage"))
        groups[cid] = groups.pop(cid)  # keep dict order = order of latest activity
    for group in groups.values():
        ids = group["flow_ids"]
        if len(ids) > MAX_GROUP_IDS:
            group["flow_ids"] = ids[-MAX_GROUP_IDS:]
            group["flow_ids_note"] = f"the newest {MAX_GROUP_IDS} of {len(ids)}"
    return list(groups.values())

def messages_of(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        return []
    for key in ("messages", "input", "contents"):
        if isinstance(body.get(key), list):
            return list(body[key])
    return []


def _key(message: Any) -> str:
    """A message's identity across turns: cache_control moves every turn and must not break the match."""
    text = json.dumps(message, sort_keys=True)
    if '"cache_control"' in text or (isinstance(message, dict) and isinstance(message.get("content"), str)):
        text = json.dumps(without_volatile(message), sort_keys=True)  # the slow path only for the messages that need it
    return hashlib.sha1(text.encode()).hexdigest()


def without_volatile(value: Any) -> Any:
    """Without `cache_control`, and a string `content` as the one text block it means."""
    if isinstance(value, dict):
        if isinstance(value.get("content"), str) and "role" in value:
            value = {**value, "content": [{"type": "text", "text": value["content"]}]}
        return {k: without_volatile(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


def prefixes(messages: Sequence[Any]) -> list[str]:
    """A chained hash per message: entry k identifies the message list `messages[:k + 1]`."""
    out, running = [], hashlib.sha1()
    for msg in messages:
        running.update(_key(msg).encode())
        out.append(running.hexdigest())
    return out
