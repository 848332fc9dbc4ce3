"""Chunking and recipes: exact byte spans in any input, and a store that gives back every byte it took."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.errors import FlowError
from ccproxy.store import blobs, chunks
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord
from tests.store.factory import make_record


def pieces(data: bytes) -> list[bytes]:
    return [data[s:e] for s, e in chunks.spans(data)]


def test_anthropic_openai_and_gemini_bodies_split_into_their_elements() -> None:
    msgs = [{"role": "user", "content": "first question, long enough to be a chunk"},
            {"role": "assistant", "content": [{"type": "text", "text": "an answer of some length"}]}]
    tools = [{"name": "read_file", "description": "reads a file from the workspace", "input_schema": {}}]
    system = [{"type": "text", "text": "You are a careful engineer who reads first."}]
    anthropic = json.dumps({"model": "m", "system": system, "tools": tools, "messages": msgs}).encode()
    assert pieces(anthropic) == [json.dumps(x).encode() for x in (*system, *tools, *msgs)]
    openai = json.dumps({"model": "m", "input": msgs, "stream": True}, separators=(",", ":")).encode()
    assert pieces(openai) == [json.dumps(x, separators=(",", ":")).encode() for x in msgs]
    contents = [{"role": "user", "parts": [{"text": "what does this function do exactly?"}]}]
    gemini = json.dumps({"systemInstruction": {"parts": [{"text": "be brief and precise, always"}]},
                         "contents": contents}).encode()
    assert pieces(gemini) == [b'{"text": "be brief and precise, always"}', json.dumps(contents[0]).encode()]
    wrapped = json.dumps({"model": "m", "request": {"contents": contents}}).encode()  # Code Assist's envelope
    assert pieces(wrapped) == [json.dumps(contents[0]).encode()]


def test_odd_whitespace_key_order_and_non_utf8_keep_exact_spans() -> None:
    data = b'{ "messages" :\n [ {"content": "caf\xc3\xa9 \xff\xfe not utf-8", "role":"user"} ,\t"a string element, which is long enough" ] }'
    assert pieces(data) == [b'{"content": "caf\xc3\xa9 \xff\xfe not utf-8", "role":"user"}',
                            b'"a string element, which is long enough"']


@pytest.mark.parametrize("data", [
    b"", b"not json at all", b"[1, 2, 3]", b'{"messages": [{"role": "user"', b"\x00\xff{",
    b'{"messages": 5}', b'{"a": [1, 2, {"b": "short"}]}', b'{"messages": [{"role": "user", "content": "x"}] trailing',
])
def test_input_the_scanner_cannot_follow_gives_only_whole_elements(data: bytes) -> None:
    found = chunks.spans(data)
    assert all(0 <= s < e <= len(data) for s, e in found)
    for s, e in found:
        json.loads(data[s:e])


def test_truncated_body_keeps_the_elements_before_the_cut() -> None:
    full = json.dumps({"messages": [{"role": "user", "content": "m" * 40}, {"role": "user", "content": "n" * 40}]})
    assert pieces(full[:-10].encode()) == [json.dumps({"role": "user", "content": "m" * 40}).encode()]


def test_recipes_round_trip() -> None:
    data = b'{"messages": [AAAA, BB]}'
    found = [(14, 18), (20, 22)]
    recipe = chunks.encode_recipe(data, found, [7, 5])
    ids, lits = chunks.decode_recipe(recipe)
    assert ids == [7, 5]
    assert chunks.assemble(lits, [b"AAAA", b"BB"]) == data
    with pytest.raises(ValueError, match="out of order"):
        chunks.encode_recipe(data, [(20, 22), (14, 18)], [1, 2])


# -- the store, byte for byte ---------------------------------------------------------------------
def check_refcounts(store: FlowStore) -> None:
    """Every blob's count is exactly the part rows and recipe entries pointing at it; nothing dangles."""
    db = store.db
    expected: Counter[int] = Counter(bid for (bid,) in db.execute("SELECT blob FROM parts"))
    for kind, data in db.execute("SELECT kind, data FROM blob_data"):
        if kind == blobs.RECIPE:
            expected.update(chunks.decode_recipe(bytes(data))[0])
    actual = dict(db.execute("SELECT id, refs FROM blobs").fetchall())
    assert actual == dict(expected)
    assert db.execute("SELECT count(*) FROM blob_data").fetchone()[0] == len(actual)


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                 "content": st.one_of(text, st.lists(st.fixed_dictionaries(
                                     {"type": st.just("text"), "text": text}), max_size=3))})


def mangle(raw: bytes, how: int, noise: bytes) -> bytes:
    """The same conversation as a client might really send it: reformatted, cut short, or garbage."""
    if how == 1:
        return json.dumps(json.loads(raw), indent=1, ensure_ascii=False, sort_keys=True).encode()
    if how == 2:
        return raw[: max(1, len(raw) - len(noise) - 1)]
    if how == 3:
        return noise + raw
    if how == 4:
        return raw.replace(b'"', b"\xff", 3)
    return raw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(message, min_size=1, max_size=6), more=st.lists(message, max_size=30),
       hows=st.lists(st.integers(0, 4), min_size=1, max_size=12), noise=st.binary(max_size=64),
       drop=st.sets(st.integers(0, 11)))
def test_any_conversation_reads_back_byte_for_byte(tmp_path_factory: pytest.TempPathFactory,
                                                   first: list[dict[str, object]], more: list[dict[str, object]],
                                                   hows: list[int], noise: bytes, drop: set[int]) -> None:
    store = FlowStore(tmp_path_factory.mktemp("s") / "flows.sqlite3", create=True)
    system = "a system prompt that every turn repeats " * 220
    records: list[FlowRecord] = []
    history = list(first)
    for turn, how in enumerate(hows):
        history = [*history, *more[turn * 3 : turn * 3 + 3]]
        rec = make_record(ts=1000.0 + turn, body={"model": "m", "system": system, "messages": history},
                          response_body=noise * turn)
        body = mangle(rec.parts["client_request"], how, noise)
        rec.parts["client_request"] = body
        rec.parts["request"] = body if turn % 2 else rec.parts["request"]
        records.append(rec)
    store.put(records[:3])
    store.put(records[3:])
    store.put(records[1:2])  # written again under the same id
    for rec in records:
        assert store.parts(rec.id) == rec.parts
    check_refcounts(store)
    gone = [r.id for i, r in enumerate(records) if i in drop]
    store.delete(gone)
    fresh = FlowStore(store.path)  # no chunk cache, no remembered ids
    for rec in records:
        if rec.id not in gone:
            assert fresh.parts(rec.id) == rec.parts
    check_refcounts(store)
    store.close()
    fresh.close()


def test_a_damaged_chunk_is_an_error_not_a_wrong_body(tmp_path: Path) -> None:
    store = FlowStore(tmp_path / "flows.sqlite3", create=True)
    body = {"model": "m", "messages": [{"role": "user", "content": "tell me everything " * 500}]}
    rec = make_record(body=body)
    store.put([rec])
    chunk_id = store.db.execute("SELECT id FROM blobs WHERE size = ?",
                                (len(json.dumps(body["messages"][0])),)).fetchone()[0]
    store.db.execute("UPDATE blob_data SET data = ? WHERE id = ?",
                     (json.dumps({"role": "user", "content": "tell me nothing! " * 500}).encode(), chunk_id))
    store.db.execute("UPDATE blob_data SET kind = ? WHERE id = ?", (blobs.RAW, chunk_id))
    with pytest.raises(FlowError, match="does not match its sha256"):
        FlowStore(store.path).parts(rec.id)


def test_missing_or_garbled_blobs_are_errors(tmp_path: Path) -> None:
    store = FlowStore(tmp_path / "flows.sqlite3", create=True)
    rec = make_record(body={"model": "m", "messages": [{"role": "user", "content": "garble me " * 1000}]})
    store.put([rec])
    recipe = store.db.execute("SELECT blob FROM parts WHERE flow_id = ? AND name = 'request'", (rec.id,)).fetchone()[0]
    store.db.execute("UPDATE blob_data SET data = x'00ff' WHERE id = ?", (recipe,))
    with pytest.raises(FlowError, match="could not be read"):
        FlowStore(store.path).parts(rec.id)
    store.db.execute("DELETE FROM blob_data WHERE id = ?", (recipe,))
    with pytest.raises(FlowError, match="is missing"):
        FlowStore(store.path).parts(rec.id)
