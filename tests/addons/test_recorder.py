from __future__ import annotations

import json
import time
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons, tflow

from ccproxy.addons.inspector import Inspector
from ccproxy.addons.recorder import Recorder
from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.meta import get_meta
from ccproxy.flows.store import FlowStore


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
        get_meta(health).extra["internal"] = True
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
    with taddons.context(recorder):
        recorder.running()
        recorder.response(finished_flow())
        recorder.done()
    assert len(stored_docs(tmp_path / "elsewhere" / "mine.sqlite3")) == 1
