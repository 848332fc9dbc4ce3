"""Per-message facts, reused from the turn before: what keeps `facts_of` cheap on a long session.

An agent re-sends its whole conversation every turn, so hashing every message, walking it for cache
breakpoints and tool results, once per request, costs the writer O(session) per flow (~25 ms at
0.7 MB, growing). Every message but the newest few is the same as in the previous request, so the
facts of each message are kept for the last few requests seen (several sessions interleave) and a
message equal to the one at the same place is not looked at again. Python's `==` on parsed JSON
runs in C; the one liberty it takes (`1 == 1.0 == True`) would need a client to re-send an old
message with a number turned into a bool.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.flows.cache import CACHE_ORDER, TTL_DEFAULT, TTL_LONG, marks_of

#: How many recent message lists are remembered (one per session being written, roughly), and at most
#: how many request bytes they came from (the parsed lists live in the writer process).
RECENT = 16
RECENT_BYTES = 24 << 20


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


def _strip(value: Any) -> Any:
    """Without `cache_control`, and a string `content` as the one text block it means."""
    if isinstance(value, dict):
        if isinstance(value.get("content"), str) and "role" in value:
            value = {**value, "content": [{"type": "text", "text": value["content"]}]}
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def message_key(message: Any) -> bytes:
    """A message's identity across turns: cache_control moves every turn and must not break the match."""
    text = json.dumps(message, sort_keys=True)
    if '"cache_control"' in text or (isinstance(message, dict) and isinstance(message.get("content"), str)):
        text = json.dumps(_strip(message), sort_keys=True)  # the slow path only for the messages that need it
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


class Recent:
    """The facts of the last `RECENT` message lists, for the next request of each to reuse."""

    def __init__(self, size: int = RECENT, budget: int = RECENT_BYTES) -> None:
        self.size, self.budget = size, budget
        self.lists: OrderedDict[int, tuple[list[Any], list[MessageFacts], bytes, int]] = OrderedDict()
        self.serial = 0

    def facts(self, messages: Sequence[Any], weight: int = 0) -> tuple[list[MessageFacts], bytes]:
        """Each message's facts and the packed prefix hashes (`chain`); `weight` is the request's size,
        counted against the byte budget."""
        best: tuple[int, int] | None = None  # (shared length, serial)
        for serial, (old, _, _, _) in self.lists.items():
            if not old or not messages or old[0] != messages[0]:
                continue
            n, limit = 1, min(len(old), len(messages))
            while n < limit and old[n] == messages[n]:
                n += 1
            if best is None or n > best[0]:
                best = (n, serial)
        reused: list[MessageFacts] = []
        prefixes = b""
        if best is not None:
            reused = self.lists[best[1]][1][: best[0]]
            prefixes = self.lists[best[1]][2][: best[0] * HASH_BYTES]
        fresh = [_fresh(m) for m in messages[len(reused):]]
        out, prefixes = reused + fresh, chain(prefixes, fresh)
        self.serial += 1
        self.lists[self.serial] = (list(messages), out, prefixes, weight)
        if best is not None:
            # Same opening message: the same conversation. Its newest request is what the next one
            # resends (a retry or a fork shares all but the last message or two with it too), and one
            # list per conversation keeps the comparisons above to one per conversation.
            del self.lists[best[1]]
        while len(self.lists) > 1 and (len(self.lists) > self.size
                                       or sum(w for *_, w in self.lists.values()) > self.budget):
            self.lists.popitem(last=False)
        return out, prefixes


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
