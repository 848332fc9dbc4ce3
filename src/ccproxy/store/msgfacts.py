"""Per-message facts, reused from the turn before: what keeps `facts_of` cheap on a long session.

An agent re-sends its whole conversation every turn, so hashing every message, walking it for cache
breakpoints and tool results, once per request, costs the writer O(session) per flow (~25 ms at
0.7 MB, growing). Every message but the newest few is the same as in the previous request, so the
facts of each message are kept with the last request of each of the last few conversations written
(several sessions interleave). A new request is compared with those as bytes: the messages that lie
in the bytes it shares with the best match are neither parsed (`bodyscan`) nor looked at again.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.store.bodyscan import MESSAGE_KEYS, Scanned, Span, scan
from ccproxy.store.cachemarks import CACHE_ORDER, TTL_DEFAULT, TTL_LONG, marks_of
from ccproxy.store.chunks import common_prefix
from ccproxy.store.conversation import first_user_text, parse_json, text_of, without_volatile

#: How many conversations' latest requests are remembered (one per session being written, roughly), and
#: at most how many bytes they hold together (they live in the writer process).
RECENT = 16
RECENT_BYTES = 16 << 20


#: Bytes kept of each chained message hash and tool-result id hash: 2^-64 collisions, 8 bytes a message.
HASH_BYTES = 8


def id_hash(value: str) -> bytes:
    return hashlib.sha1(value.encode()).digest()[:HASH_BYTES]


@dataclass(frozen=True)
class MessageFacts:
    key: bytes  # the message's identity across turns (`cache_control` left out)
    marks: tuple[str, ...]  # cache breakpoint paths inside the message, after its own path
    results: tuple[bytes, ...]  # `id_hash` of each tool call id whose result it carries
    ttl_1h: bool  # some `cache_control` in it asks for the 1 h TTL


def chain(prefixes: bytes, keys: Sequence[MessageFacts]) -> bytes:
    """`prefixes` (packed, one per earlier message) extended by one entry per message of `keys`: entry k
    identifies the message list `messages[:k + 1]` (it hashes entry k - 1 with message k's key)."""
    out = [prefixes]
    last = prefixes[-HASH_BYTES:]
    for facts in keys:
        last = hashlib.sha1(last + facts.key).digest()[:HASH_BYTES]
        out.append(last)
    return b"".join(out)



def message_key(message: Any) -> bytes:
    """A message's identity across turns: cache_control moves every turn and must not break the match."""
    text = json.dumps(message, sort_keys=True)
    if '"cache_control"' in text or (isinstance(message, dict) and isinstance(message.get("content"), str)):
        text = json.dumps(without_volatile(message), sort_keys=True)  # the slow path only for the messages that need it
    return hashlib.sha1(text.encode()).digest()


def results_of(msg: Any) -> tuple[str, ...]:
    """Ids of tool calls whose results a message sends (Anthropic, OpenAI Chat, Responses)."""
    if not isinstance(msg, dict):
        return ()
    ids: list[str] = []
    if msg.get("role") == "tool" and msg.get("tool_call_id"):
        ids.append(str(msg["tool_call_id"]))
    if msg.get("type") == "function_call_output" and msg.get("call_id"):
        ids.append(str(msg["call_id"]))
    content = msg.get("content")
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id"):
            ids.append(str(block["tool_use_id"]))
    return tuple(ids)


def has_ttl_1h(value: Any) -> bool:
    """Some object in `value` has `"ttl": "1h"`: exactly what `'"ttl": "1h"' in json.dumps(body)` finds
    (outside a string, JSON quotes are structural, so the match is a key `ttl` whose value is `1h`)."""
    if isinstance(value, dict):
        return value.get("ttl") == "1h" or any(has_ttl_1h(v) for v in value.values())
    if isinstance(value, list):
        return any(has_ttl_1h(v) for v in value)
    return False


def _fresh(message: Any) -> MessageFacts:
    marks: list[str] = []
    marks_of("", message, False, marks)
    return MessageFacts(message_key(message), tuple(marks), tuple(id_hash(r) for r in results_of(message)),
                        has_ttl_1h(message))


@dataclass
class _Seen:
    """A conversation's latest request: its bytes, where its messages lie, and their facts."""

    raw: bytes
    key: str | None
    spans: list[Span]
    facts: list[MessageFacts]
    prefixes: bytes


@dataclass
class Read:
    """A request body as `facts_of` reads it."""

    scanned: Scanned | None  # None: not a JSON object json.loads accepts (then `body` is what it gives)
    body: Any
    key: str | None
    facts: list[MessageFacts]
    prefixes: bytes

    def first_text(self) -> str | None:
        """`conversation.first_user_text`, parsing only the messages up to the first user text."""
        if self.scanned is None:
            return first_user_text(self.body)
        scanned = self.scanned
        if isinstance(scanned.members.get("input"), str):
            return str(scanned.members["input"])
        for key in MESSAGE_KEYS:
            for item in scanned.items(key):
                if isinstance(item, dict) and item.get("role") == "user":
                    text = text_of(item.get("content") if "content" in item else item.get("parts"))
                    if text:
                        return text
        return None

    def sections(self) -> dict[str, Any]:
        """The body's members for `body_facts`: the message list left to `facts`, any other list parsed."""
        if self.scanned is None:
            return self.body if isinstance(self.body, dict) else {}
        scanned = self.scanned
        return {k: (list(scanned.items(k)) if k in scanned.lists and k != self.key else v)
                for k, v in scanned.members.items()}


class Recent:
    """The latest request of the last `RECENT` conversations written, for the next request of each to reuse."""

    def __init__(self, size: int = RECENT, budget: int = RECENT_BYTES) -> None:
        self.size, self.budget = size, budget
        self.seen: OrderedDict[int, _Seen] = OrderedDict()
        self.serial = 0

    def read(self, raw: bytes) -> Read:
        best: tuple[int, int] | None = None  # (bytes shared, serial)
        for serial, old in self.seen.items():
            shared = common_prefix(raw, old.raw)
            if shared and (best is None or shared > best[0]):
                best = (shared, serial)
        prev = self.seen[best[1]] if best else None
        known = {s: e for s, e in prev.spans if e <= best[0]} if prev and best else {}
        scanned = scan(raw, known)
        if scanned is None:  # not an object this scanner follows: parse it whole, reuse nothing
            body = parse_json(raw)
            key = next((k for k in MESSAGE_KEYS if isinstance(body, dict) and isinstance(body.get(k), list)), None)
            fresh = [_fresh(m) for m in (body[key] if key else [])]
            return Read(None, body, key, fresh, chain(b"", fresh))
        key = scanned.key
        spans = scanned.lists.get(key, []) if key else []
        reused = 0
        if prev is not None and prev.key == key:
            while reused < min(len(spans), len(prev.spans)) and spans[reused] == prev.spans[reused] \
                    and spans[reused][0] in known:
                reused += 1
        fresh = [_fresh(scanned.element(key, i)) for i in range(reused, len(spans))] if key else []
        facts = (prev.facts[:reused] if prev else []) + fresh
        prefixes = chain(prev.prefixes[: reused * HASH_BYTES] if prev else b"", fresh)
        self.serial += 1
        self.seen[self.serial] = _Seen(raw, key, spans, facts, prefixes)
        if prev is not None and best is not None and reused:
            del self.seen[best[1]]  # the same conversation: its newest request is what the next one resends
        while len(self.seen) > 1 and (len(self.seen) > self.size
                                      or sum(len(s.raw) for s in self.seen.values()) > self.budget):
            self.seen.popitem(last=False)
        return Read(scanned, None, key, facts, prefixes)


RECENT_LISTS = Recent()


def body_facts(body: Any, key: str | None, per_message: Sequence[MessageFacts],
               raw: bytes | None = None) -> tuple[list[str], float]:
    """The body's cache breakpoints (as `cache.breakpoints`) and TTL (as `cache.ttl_of`), the message list
    under `key` read from `per_message`. With the `raw` bytes the body was parsed from, a body that
    cannot hold a `ttl` key (no `ttl` and no `\\u` escape in it) is not walked for one."""
    if not isinstance(body, dict):
        return [], TTL_DEFAULT
    marks: list[str] = []
    for section in CACHE_ORDER:
        if section not in body:
            continue
        if section == key:
            for i, facts in enumerate(per_message):
                marks += [f"{key}[{i}]{m}" for m in facts.marks]
        else:
            marks_of(section, body[section], section == "tools", marks)
    maybe = raw is None or b"ttl" in raw or b"\\u" in raw
    long = maybe and (any(f.ttl_1h for f in per_message) or has_ttl_1h({k: v for k, v in body.items() if k != key}))
    return marks, TTL_LONG if long else TTL_DEFAULT
