"""The live blob rebuilt per session (`viewer.fragments`) equals a full `light_data` rebuild, whatever the
store went through: flows added in any order (a subagent after the turn that spawned it), deleted, or
written again under their id (a replay)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.library import FlowLibrary, request_bodies
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord
from ccproxy.viewer.data import light_data
from ccproxy.viewer.worker import LiveData
from tests.sessions.agent_session import T0, records
from tests.store.factory import make_record

OTHER = "0d9e8f7a-0000-4000-8000-00000000beef"


def _other_session() -> list[FlowRecord]:
    """A second session: two turns of one conversation."""
    headers = [("content-type", "application/json"), ("x-claude-code-session-id", OTHER)]
    u0 = {"role": "user", "content": "list the files"}
    a0 = {"role": "assistant", "content": "a.py b.py"}
    u1 = {"role": "user", "content": "open a.py"}
    answer = json.dumps({"type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                         "usage": {"input_tokens": 30, "output_tokens": 5}}).encode()
    return [make_record(fid=f"d{i}000000-0000-4000-8000-000000000000", ts=T0 + 100 + i, client_headers=headers,
                        body={"model": "claude-sonnet-4-5", "messages": msgs}, response_body=answer)
            for i, msgs in enumerate(([u0], [u0, a0, u1]))]


POOL = records() + _other_session()


def _replayed(rec: FlowRecord) -> FlowRecord:
    """The same flow id written again: a replay answered later, with other usage."""
    body = json.loads(rec.parts["client_request"])
    answer = json.dumps({"type": "message", "role": "assistant", "content": [{"type": "text", "text": "again"}],
                         "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0}}).encode()
    headers = [(k, v) for k, v in rec.doc["ccproxy"]["client_request"]["headers"]]
    return make_record(fid=rec.id, ts=rec.doc["timestamp_created"] + 1, body=body, client_headers=headers,
                       response_body=answer)


def _full(directory: Path) -> dict[str, Any]:
    library = FlowLibrary(CCProxyConfig(), directory)
    with library.open() as store:
        assert store is not None
        ids = library.ids()
        docs = {d["id"]: d for d in store.docs(ids)}
        return light_data(store.facts(ids), docs, request_bodies(store), prices=library.config.prices)


def _same(live: LiveData, directory: Path) -> None:
    got, want = json.loads(live.get()), _full(directory)
    for blob in (got, want):
        blob.pop("generated")
    assert got == want
    assert [s["session_id"] for s in got["tree"]] == [s["session_id"] for s in want["tree"]]


OPS = st.lists(st.tuples(st.sampled_from(["put", "delete", "replay"]), st.integers(0, len(POOL) - 1)),
               min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_the_per_session_blob_equals_a_full_rebuild_after_every_change(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with FlowStore(directory / "flows.sqlite3", create=True):
            pass
        live = LiveData(FlowLibrary(CCProxyConfig(), directory))
        for op, i in ops:
            with FlowStore(directory / "flows.sqlite3") as store:
                if op == "put":
                    store.put([POOL[i]])
                elif op == "delete":
                    store.delete([POOL[i].id])
                else:
                    store.put([_replayed(POOL[i])])
            _same(live, directory)


def test_a_new_flow_rebuilds_only_its_session(tmp_path: Path) -> None:
    with FlowStore(tmp_path / "flows.sqlite3", create=True) as store:
        store.put(POOL[:-1])
    live = LiveData(FlowLibrary(CCProxyConfig(), tmp_path))
    live.get()
    assert live.fragments.rebuilt == 2
    with FlowStore(tmp_path / "flows.sqlite3") as store:
        store.put(POOL[-1:])
    _same(live, tmp_path)
    assert live.fragments.rebuilt == 1
    assert live.flow(POOL[-1].id) is not None
