"""FlowMeta's typed facts: fields on the live flow, still `.ccproxy.extra.<key>` in the flow JSON."""

from __future__ import annotations

from dataclasses import fields

from ccproxy.flowmeta import IN_EXTRA, FlowMeta
from ccproxy.store.stored_flow import StoredFlow


def typed_meta() -> FlowMeta:
    meta = FlowMeta(extra={"my_hook": {"n": 1}})
    meta.body_streamed = True
    meta.auth_recovery = {"status": 401, "renewed": "reread", "replay_status": 200}
    meta.websocket_refusal = {"refused": 426, "reason": "sentinel"}
    meta.mcp_notifications = {"tasks": ["t1"], "events": 2, "as": "tool"}
    meta.timed_out = "no response headers within 5 s"
    return meta


def test_typed_facts_are_written_under_their_old_extra_keys_and_nowhere_else() -> None:
    doc = typed_meta().to_json()
    assert doc["extra"] == {
        "my_hook": {"n": 1},
        "body_streamed": True,
        "auth": {"status": 401, "renewed": "reread", "replay_status": 200},
        "websocket": {"refused": 426, "reason": "sentinel"},
        "mcp_notifications": {"tasks": ["t1"], "events": 2, "as": "tool"},
        "upstream_timeout": "no response headers within 5 s",
    }
    assert not set(IN_EXTRA) & set(doc)  # no new top-level keys in `.ccproxy`


def test_unset_facts_leave_extra_as_it_was() -> None:
    assert FlowMeta().to_json()["extra"] == {}
    assert FlowMeta(extra={"k": 1}).to_json()["extra"] == {"k": 1}


def test_every_typed_fact_names_a_real_field() -> None:
    assert set(IN_EXTRA) <= {f.name for f in fields(FlowMeta)}
    assert len(set(IN_EXTRA.values())) == len(IN_EXTRA)


def test_a_stored_flow_gets_its_facts_back_as_fields() -> None:
    doc = {"id": "f1", "ccproxy": typed_meta().to_json()}
    meta = StoredFlow(doc).meta()
    assert meta.restored is True
    assert meta.auth_recovery == {"status": 401, "renewed": "reread", "replay_status": 200}
    assert meta.body_streamed is True and meta.websocket_refusal == {"refused": 426, "reason": "sentinel"}
    assert meta.extra == {"my_hook": {"n": 1}}
    assert meta.to_json()["extra"] == {**doc["ccproxy"]["extra"], "restored": True}
