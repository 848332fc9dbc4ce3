from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from ccproxy.store.stored_flow import StoredFlow
from ccproxy.viewer.page import inline_json, render, write_html
from tests.sessions.agent_session import records
from tests.store.factory import make_record, viewer_blob

DATA_RE = re.compile(r'<script type="application/json" id="ccproxy-data">(.*?)</script>', re.S)


def flows() -> list[StoredFlow]:
    return [StoredFlow(r.doc, r.parts) for r in records()]


def test_the_blob_has_the_tree_and_per_flow_views() -> None:
    data = viewer_blob(records())
    assert data["redacted"] is True
    assert len(data["flows"]) == 7
    spawner = data["tree"][0]["conversations"][0]["turns"][0]
    assert spawner["children"][0]["subagent"]["tool"] == "Task"
    view = data["flows"]["a3000000-0000-4000-8000-000000000000"]
    assert view["cache"]["cause"] == "prefix_drift"
    assert view["diff"]["against"] == "a2000000-0000-4000-8000-000000000000"
    assert set(view["phases"]) == {"client_request", "request", "upstream_response", "response"}
    streamed = data["flows"]["c0000000-0000-4000-8000-000000000000"]
    assert streamed["lint"]["client"]["valid"] is False
    assert streamed["events"]["upstream"][0][1] == "message_start"
    assert streamed["events"]["upstream"][0][0] >= 0  # ms after the flow started
    assert view["summary"]["cost"]["usd"] > 0  # claude-sonnet-4-5 is in the bundled price table
    session = data["tree"][0]
    assert session["cost"]["priced"] >= 1 and session["cost"]["label"].startswith("$")
    assert all("cost" in turn for turn in session["conversations"][0]["turns"])


def test_the_export_inlines_everything_and_forbids_fetches(tmp_path: Path) -> None:
    path = tmp_path / "out" / "session.html"
    write_html(path, viewer_blob(records()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    html = path.read_text()
    assert "connect-src 'none'" in html and "default-src 'none'" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external asset"
    blob = json.loads(DATA_RE.search(html).group(1))  # type: ignore[union-attr]
    assert blob["tree"][0]["session_id"]
    assert "connect-src 'self'" in render(None) and "/*CCPROXY_DATA*/null" in render(None)


def test_inlined_json_cannot_close_the_script_element() -> None:
    text = inline_json({"body": "</script><script>alert(1)</script> <!-- \u2028"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text)["body"].startswith("</script>")


def test_exports_are_redacted_unless_asked(tmp_path: Path) -> None:
    rec = make_record(body={"model": "m", "api_key": "sk-live-abcdef123456",
                            "messages": [{"role": "user", "content": "hi"}]})
    masked = json.dumps(viewer_blob([rec]))
    assert "sk-live-abcdef123456" not in masked and "sk-real-secret-key-123" not in masked
    raw = json.dumps(viewer_blob([rec], redacted=False))
    assert "sk-live-abcdef123456" in raw and "sk-real-secret-key-123" in raw


def test_the_light_blob_leaves_bodies_and_events_to_flow_detail() -> None:
    from ccproxy.viewer.data import flow_detail

    light = viewer_blob(records(), details=False)
    view = light["flows"]["c0000000-0000-4000-8000-000000000000"]
    assert "phases" not in view and "events" not in view and view["lint"]["valid"] is False
    assert light["flows"]["a3000000-0000-4000-8000-000000000000"]["diff"]["against"].startswith("a2")
    assert "entries" not in light["flows"]["a3000000-0000-4000-8000-000000000000"]["diff"]
    flow = next(f for f in flows() if f.id.startswith("c0"))
    detail = flow_detail(flow)
    assert detail["events"]["client"][-1][2] == "[DONE]" and detail["phases"]["client_request"] is not None
