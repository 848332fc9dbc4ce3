from __future__ import annotations

import json
import time
from pathlib import Path

from mitmproxy import contentviews, http
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

from ccproxy.addons.contentview import ContentViews
from ccproxy.addons.inspector import Inspector
from ccproxy.addons.recorder import Recorder, capture
from ccproxy.addons.view import FlowView
from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.store.db import FlowStore


def recent(flow: http.HTTPFlow) -> http.HTTPFlow:
    """tflow stamps its flows in 2000; retention (14 days by default) would drop them at once."""
    now = time.time()
    flow.timestamp_created = now
    flow.request.timestamp_start, flow.request.timestamp_end = now, now + 0.001
    if flow.response is not None:
        flow.response.timestamp_start, flow.response.timestamp_end = now + 0.01, now + 0.02
    if flow.error is not None:
        flow.error.timestamp = now + 0.03
    flow.live = False  # the proxy has sent the response
    return flow


def finished_flow(body: dict[str, object] | None = None) -> http.HTTPFlow:
    flow = recent(tflow.tflow())
    flow.request.method = "POST"
    flow.request.path = "/v1/messages"
    flow.request.headers["x-api-key"] = "sk-ant-oat-ccproxy-anthropic"
    flow.request.content = json.dumps(body or {"model": "claude-x", "messages": [
        {"role": "user", "content": "hello"}]}).encode()
    Inspector().request(flow)
    flow.request.headers["x-api-key"] = "sk-live-credential-999"  # what inject_auth would do
    flow.response = http.Response.make(200, json.dumps({
        "type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 11, "output_tokens": 2}}), {"content-type": "application/json"})
    return recent(flow)


def stored_docs(path: Path) -> list[dict[str, object]]:
    with FlowStore(path) as store:
        return store.docs(store.ids())


def test_a_finished_flow_is_stored_with_usage_and_masked_credentials(tmp_path: Path) -> None:
    recorder = Recorder(CCProxyConfig(), tmp_path)
    with taddons.context(recorder):
        flow = finished_flow()
        recorder.response(flow)
        assert recorder.writer is not None and recorder.writer.flush(10)
        meta = get_meta(flow)
        assert meta.usage == {"input_tokens": 11, "output_tokens": 2}
        assert meta.conversation_id is not None
        recorder.done()
    (doc,) = stored_docs(tmp_path / "flows.sqlite3")
    assert doc["id"] == flow.id
    ccp = doc["ccproxy"]
    assert isinstance(ccp, dict)
    assert ccp["usage"] == {"input_tokens": 11, "output_tokens": 2}
    assert ccp["model"] == "claude-x"
    assert ccp["client_request"]["headers"][-1] == ["x-api-key", "sk-ant-oat-ccproxy-anthropic"]
    assert "sk-live-credential-999" not in json.dumps(doc)


def test_failed_flows_are_stored_and_internal_ones_are_not(tmp_path: Path) -> None:
    recorder = Recorder(CCProxyConfig(), tmp_path)
    with taddons.context(recorder):
        failed = recent(tflow.tflow(err=True))
        Inspector().request(failed)
        recorder.error(failed)
        health = recent(tflow.tflow(resp=True))
        get_meta(health).internal = True
        recorder.response(health)
        recorder.done()
    docs = stored_docs(tmp_path / "flows.sqlite3")
    assert [d["id"] for d in docs] == [failed.id]
    assert docs[0]["ccproxy"]["error"] == "error"  # type: ignore[index]
    assert "response" not in docs[0]


def test_the_store_location_follows_the_config(tmp_path: Path) -> None:
    config = CCProxyConfig()
    config.flows.store = str(tmp_path / "elsewhere" / "mine.sqlite3")
    recorder = Recorder(config, tmp_path / "cfg")
    with taddons.context(recorder) as tctx:
        tctx.master.event_loop.run_until_complete(recorder.running())
        recorder.response(finished_flow())
        recorder.done()
    assert len(stored_docs(tmp_path / "elsewhere" / "mine.sqlite3")) == 1


def test_the_capture_is_a_snapshot_the_writer_can_read_safely() -> None:
    flow = finished_flow()
    meta = get_meta(flow)
    captured = capture(flow)
    meta.warnings.append("added after capture")
    meta.upstream_raw += b"late bytes"
    assert captured.meta is not meta
    assert captured.meta.warnings == [] and captured.meta.upstream_raw == bytearray()
    assert captured.web["id"] == flow.id and captured.request_body == flow.request.raw_content


def test_a_restarted_daemon_shows_the_newest_stored_flows_in_mitmweb(tmp_path: Path) -> None:
    config = CCProxyConfig()
    config.inspector.view_limit = 2
    first = Recorder(config, tmp_path)
    originals = [finished_flow({"model": f"m{i}", "messages": [{"role": "user", "content": f"q{i}"}]})
                 for i in range(3)]
    with taddons.context(first):
        for flow in originals:
            first.response(flow)
        first.done()

    again, view, keeper = Recorder(config, tmp_path), View(), FlowView(config, tmp_path)
    with taddons.context(view, again, keeper) as tctx:
        loop = tctx.master.event_loop
        loop.run_until_complete(again.running())
        loop.run_until_complete(keeper.running())
        assert keeper.restoring is not None
        loop.run_until_complete(keeper.restoring)
        restored = list(view)
        ContentViews().load(None)
        text = contentviews.prettify_message(restored[-1].request, restored[-1], view_name="Client Request").text
        again.done()
    assert [f.id for f in restored] == [f.id for f in originals[1:]]
    flow = restored[-1]
    assert flow.request.method == "POST" and flow.request.path == "/v1/messages"
    assert json.loads(flow.request.content or b"")["model"] == "m2"
    assert flow.response is not None and flow.response.status_code == 200
    assert not flow.live
    meta = get_meta(flow)
    assert meta.restored is True
    assert meta.client_request is not None and meta.client_request.body == originals[2].request.content
    assert meta.usage == {"input_tokens": 11, "output_tokens": 2}
    assert "x-api-key: sk-ant-oat-ccproxy-anthropic" in text


def test_restored_flows_hold_no_bodies_until_mitmweb_opens_one(tmp_path: Path) -> None:
    from mitmproxy.tools.web.app import flow_to_json

    from ccproxy.store.restore import RECENT

    config = CCProxyConfig()
    first = Recorder(config, tmp_path)
    big = [finished_flow({"model": f"m{i}", "messages": [{"role": "user", "content": f"{i}" * 300_000}]})
           for i in range(3)]
    with taddons.context(first):
        for flow in big:
            first.response(flow)
        first.done()

    RECENT.items.clear()
    again, view, keeper = Recorder(config, tmp_path), View(), FlowView(config, tmp_path)
    with taddons.context(view, again, keeper) as tctx:
        loop = tctx.master.event_loop
        loop.run_until_complete(again.running())
        loop.run_until_complete(keeper.running())
        assert keeper.restoring is not None
        loop.run_until_complete(keeper.restoring)
        restored = list(view)
        again.done()
    assert [f.id for f in restored] == [f.id for f in big]
    for flow in restored:  # what the view holds: headers and facts, no body bytes
        assert flow.request.raw_content is None and flow.response is not None and flow.response.raw_content is None
        summary = get_meta(flow).__dict__["_v_client_request"]
        assert summary.method == "POST" and summary.body == b""
        assert get_meta(flow).usage == {"input_tokens": 11, "output_tokens": 2}
        assert flow_to_json(flow)["request"]["contentLength"] is None  # mitmweb's list reads no body
    assert not RECENT.items
    opened = restored[1]
    assert opened.request.get_content() == big[1].request.content  # a content view / download reads it
    assert json.loads(opened.response.get_content() or b"")["usage"]["output_tokens"] == 2  # type: ignore[union-attr]
    client = get_meta(opened).client_request
    assert client is not None and client.body == big[1].request.content
    assert list(RECENT.items) == [(str(tmp_path / "flows.sqlite3"), opened.id)]
