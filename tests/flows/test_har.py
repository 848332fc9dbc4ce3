from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ccproxy.flows.har import to_har
from ccproxy.store.stored_flow import StoredFlow
from tests.store.factory import fixture_bytes, fixture_events, make_record

SCHEMA = json.loads((Path(__file__).parent.parent / "fixtures" / "har-1.2.schema.json").read_text())


def validate(har: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(har), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    for entry in har["log"]["entries"]:
        assert entry["time"] == pytest.approx(sum(v for v in entry["timings"].values() if v > 0), abs=0.01)


def flow(**kw: Any) -> StoredFlow:
    rec = make_record(**kw)
    return StoredFlow(json.loads(json.dumps(rec.doc)), dict(rec.parts))


def test_the_schema_rejects_what_it_should() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert not validator.is_valid({"log": {"version": "1.2", "creator": {"name": "x"}, "entries": []}})
    assert not validator.is_valid({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                                           "entries": [], "extra": 1}})
    assert validator.is_valid({"log": {"version": "1.2", "creator": {"name": "x", "version": "1"},
                                       "entries": [], "_custom": 1}})


def test_one_page_per_flow_two_entries_each() -> None:
    flows = [flow(ts=1_700_000_000.0), flow(ts=1_700_000_001.0, forwarded_body={"model": "other"})]
    har = to_har(flows)
    validate(har)
    log = har["log"]
    assert [p["id"] for p in log["pages"]] == [f.id for f in flows]
    assert len(log["entries"]) == 4
    fwd, cli = log["entries"][2], log["entries"][3]
    assert fwd["pageref"] == cli["pageref"] == flows[1].id
    assert fwd["_ccproxy"]["phase"] == "forwarded" and cli["_ccproxy"]["phase"] == "client"
    assert fwd["request"]["url"] == "http://127.0.0.1:9999/v1/messages"
    assert cli["request"]["url"] == "http://127.0.0.1:4000/v1/messages"
    assert json.loads(fwd["request"]["postData"]["text"]) == {"model": "other"}
    assert json.loads(cli["request"]["postData"]["text"])["model"] == "claude-x"
    assert log["pages"][0]["startedDateTime"] == "2023-11-14T22:13:20.000Z"


def test_credentials_are_masked_unless_unredacted() -> None:
    f = flow(client_headers=[("cookie", "sid=c00kie"), ("content-type", "application/json")],
             resp_headers=[["content-type", "application/json"], ["set-cookie", "sid=s3t; Path=/; HttpOnly"]])
    masked = json.dumps(to_har([f]))
    assert "sk-real-secret-key-123" not in masked and "c00kie" not in masked and "s3t" not in masked
    raw_har = to_har([f], masked=False)
    validate(raw_har)
    raw = json.dumps(raw_har)
    assert "sk-real-secret-key-123" in raw and "c00kie" in raw
    cookies = raw_har["log"]["entries"][0]["response"]["cookies"]
    assert cookies == [{"name": "sid", "value": "s3t", "path": "/", "httpOnly": True}]


def test_streams_failures_and_binary_bodies_stay_valid() -> None:
    events = fixture_events("anthropic_stream_text.sse")
    streamed = flow(upstream_events=events, response_body=fixture_bytes("anthropic_stream_text.sse"),
                    resp_headers=[["content-type", "text/event-stream"]])
    failed = flow(status=None)
    binary = flow(response_body=b"\xff\xfe\x00binary", resp_headers=[["content-type", "application/octet-stream"]])
    har = to_har([streamed, failed, binary])
    validate(har)
    entries = har["log"]["entries"]
    assert entries[0]["response"]["content"]["mimeType"] == "text/event-stream"
    assert "event: message_start" in entries[0]["response"]["content"]["text"]
    assert entries[2]["response"]["status"] == 0 and "connection reset" in entries[2]["response"]["comment"]
    assert entries[4]["response"]["content"]["encoding"] == "base64"


def test_the_streamed_har_is_the_same_document_and_valid(tmp_path: Path) -> None:
    import io

    from ccproxy.flows.har import write_har

    flows = [flow(ts=1_700_000_000.0 + i) for i in range(4)]
    out = io.StringIO()
    assert write_har(iter(flows), out) == 4
    har = json.loads(out.getvalue())
    assert har == to_har(flows)
    validate(har)
    empty = io.StringIO()
    assert write_har(iter([]), empty) == 0
    validate(json.loads(empty.getvalue()))


def test_dumping_many_large_flows_holds_one_flow_at_a_time(tmp_path: Path) -> None:
    """60 flows with ~400 KB request bodies (24 MB of bodies, ~70 MB of HAR text): peak memory stays
    a few flows' worth. Building the document in memory (the old dump) peaked far above the bound."""
    import os
    import tracemalloc

    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.store import api
    from ccproxy.store.db import FlowStore

    config = CCProxyConfig()
    count, pad = 60, 400_000
    with FlowStore(api.store_path(config, tmp_path), create=True) as store:
        for i in range(count):
            body = {"model": "m", "messages": [{"role": "user", "content": os.urandom(pad // 2).hex()}]}
            store.put([make_record(ts=1_700_000_000.0 + i, body=body)])

    class Sink:
        size = 0

        def write(self, text: str) -> int:
            self.size += len(text)
            return len(text)

    sink = Sink()
    tracemalloc.start()
    try:
        written = FlowLibrary(config, tmp_path).write_har(sink)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written == count
    assert sink.size > count * pad * 2  # both entries carry the body
    assert peak < 12 * pad * 2, f"peak {peak / 1e6:.1f} MB for {sink.size / 1e6:.1f} MB written"
