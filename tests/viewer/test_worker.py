"""The live viewer's data over a store: built from facts, and a new flow costs reading that flow only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.library import FlowLibrary
from ccproxy.store.db import FlowStore
from ccproxy.viewer.worker import LiveData
from tests.sessions.agent_session import records


def test_a_new_flow_reads_only_its_own_row_and_bodies_only_to_locate_drift(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = records()
    with FlowStore(tmp_path / "flows.sqlite3", create=True) as store:
        store.put(recs[:-1])
    asked: list[list[str]] = []
    bodies: list[str] = []
    real_facts, real_parts = FlowStore.facts, FlowStore.parts

    def facts(self: FlowStore, ids: list[str]) -> object:
        asked.append(list(ids))
        return real_facts(self, ids)

    def parts(self: FlowStore, flow_id: str) -> object:
        bodies.append(flow_id[:2])
        return real_parts(self, flow_id)

    monkeypatch.setattr(FlowStore, "facts", facts)
    monkeypatch.setattr(FlowStore, "parts", parts)
    live = LiveData(FlowLibrary(CCProxyConfig(), tmp_path))
    first = json.loads(live.get())
    assert len(first["flows"]) == len(recs) - 1 and asked == [[r.id for r in recs[:-1]]]
    assert sorted(bodies) == ["a2", "a3"]  # a3's cache shortfall is prefix drift: located in the two bodies
    assert live.get() is live.body  # unchanged set: nothing rebuilt
    with FlowStore(tmp_path / "flows.sqlite3") as store:
        store.put(recs[-1:])
    asked.clear()
    bodies.clear()
    second = json.loads(live.get())
    assert asked == [[recs[-1].id]] and bodies == [] and len(second["flows"]) == len(recs)
    assert second["flows"]["a3000000-0000-4000-8000-000000000000"]["cache"]["cause"] == "prefix_drift"
    detail = json.loads(live.flow("a3000000-0000-4000-8000-000000000000") or b"{}")
    assert detail["diff"]["against"].startswith("a2") and detail["diff"]["counts"]["added"] >= 2
