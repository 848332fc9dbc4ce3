"""Reading a body incrementally gives what parsing it whole gives, whatever the bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.store.bodyscan import scan
from ccproxy.store.conversation import first_user_text, parse_json
from ccproxy.store.msgfacts import Recent

leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=6), st.just("é\u2028\x00"))
value = st.recursive(leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                               st.dictionaries(st.sampled_from(["type", "text", "cache_control",
                                                                                "ttl", "tool_use_id"]), c,
                                                               max_size=3)), max_leaves=8)
message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                 "content": st.one_of(st.text(max_size=8), st.lists(value, max_size=3))})


def dumps(body: Any, style: int) -> bytes:
    if style == 0:
        return json.dumps(body).encode()
    if style == 1:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return json.dumps(body, indent=1).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(message, max_size=6), st.lists(message, max_size=3), st.integers(0, 2), st.integers(0, 5),
       st.sampled_from(["messages", "input", "contents"]), st.dictionaries(st.sampled_from(["system", "model", "x"]),
                                                                           value, max_size=2))
def test_a_body_read_after_its_predecessor_reads_as_it_parses(
        history: list[Any], tail: list[Any], style: int, cut: int, key: str, extra: dict[str, Any]) -> None:
    before = {**extra, key: history}
    after = {**extra, key: [*history[:cut], *tail]}
    recent, fresh = Recent(), Recent()
    recent.read(dumps(before, style))
    raw = dumps(after, style)
    read, whole = recent.read(raw), fresh.read(raw)
    assert read.facts == whole.facts and read.prefixes == whole.prefixes
    assert read.first_text() == first_user_text(json.loads(raw))
    scanned = scan(raw)
    assert scanned is not None and scanned.body() == json.loads(raw)


@given(st.binary(max_size=40))
def test_what_json_rejects_is_left_to_json(raw: bytes) -> None:
    body = b'{"messages": [' + raw + b"]}"
    scanned = scan(body)
    assert (scanned.body() if scanned is not None else None) == parse_json(body)


def test_odd_bodies() -> None:
    assert scan(b'{"a": 1} trailing') is None and parse_json(b'{"a": 1} trailing') is None
    assert scan(b'{"messages": [1, 2], "messages": "x"}').body() == {"messages": "x"}  # type: ignore[union-attr]
    assert scan(b'{"messages": ["\xff"]}') is None and parse_json(b'{"messages": ["\xff"]}') is None
    assert scan(b'{"messages": ["a\tb"]}') is None and parse_json(b'{"messages": ["a\tb"]}') is None
    assert scan(b"[1]") is None
