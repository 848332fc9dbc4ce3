from __future__ import annotations

import json

from ccproxy.flows.changes import (
    compare,
    comparison_text,
    diff_text,
    header_changes,
    sliding_diff,
)
from ccproxy.store.stored_flow import StoredFlow
from tests.store.factory import make_record


def stored(**kw: object) -> StoredFlow:
    rec = make_record(**kw)  # type: ignore[arg-type]
    return StoredFlow(json.loads(json.dumps(rec.doc)), dict(rec.parts))


def test_header_changes_detect_on_raw_values_and_show_masked() -> None:
    changes = header_changes(
        [["x-api-key", "sk-old-secret"], ["x-ccproxy-hooks", "+a"], ["Accept", "*/*"]],
        [["x-api-key", "sk-new-secret"], ["accept", "*/*"], ["host", "api.example.com"]],
    )
    by_name = {c.name: c for c in changes}
    assert set(by_name) == {"x-api-key", "x-ccproxy-hooks", "host"}
    assert by_name["x-api-key"].kind == "~"
    assert by_name["x-api-key"].before == by_name["x-api-key"].after == "[REDACTED]"
    assert by_name["x-ccproxy-hooks"].kind == "-" and by_name["host"].kind == "+"


def test_compare_a_passthrough_flow() -> None:
    c = compare(stored())
    text = comparison_text(c)
    assert c.request.url == ("http://127.0.0.1:4000/v1/messages", "http://127.0.0.1:9999/v1/messages")
    assert [h.name for h in c.request.headers] == ["x-api-key"]
    assert c.request.headers[0].before == "sk-ant-oat-ccproxy-anthropic"
    assert c.request.headers[0].after == "[REDACTED]"
    assert "request bodies are identical" in text
    assert "response bodies are identical" in text
    assert "sk-real-secret-key-123" not in text


def test_compare_shows_body_diffs_with_stable_pretty_json() -> None:
    c = compare(stored(body={"model": "a", "messages": [], "z": 1},
                       forwarded_body={"z": 1, "messages": [], "model": "b", "metadata": {"user_id": "u"}},
                       response_body=b'{"type":"message","content":[{"type":"text","text":"B"}]}',
                       upstream_body=b'{"type":"message","content":[{"type":"text","text":"A"}]}'))
    req = "".join(c.request.body_diff)
    assert '-  "model": "a",' in req and '+  "model": "b",' in req and '+  "metadata": {' in req
    changed = [line for line in req.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert not any('"z"' in line for line in changed)  # unchanged; key order does not matter
    resp = "".join(c.response.body_diff)
    assert '-      "text": "A",' in resp and '+      "text": "B",' in resp
    assert resp.startswith("--- provider:") and "+++ client:" in resp


def test_compare_without_a_provider_response_says_so() -> None:
    c = compare(stored(status=None))
    assert not c.response.present
    assert "no response at all" in c.response.note and "connection reset" in c.response.note


def test_sliding_diff_windows_and_identical_pairs() -> None:
    flows = [stored(ts=1.0), stored(ts=2.0), stored(ts=3.0, body={"model": "claude-x", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})]
    diffs = sliding_diff(flows)
    assert [(d.from_id, d.to_id) for d in diffs] == [(flows[0].id, flows[1].id), (flows[1].id, flows[2].id)]
    assert diffs[0].identical and "request bodies are identical" in diff_text(diffs[0])
    text = diff_text(diffs[1])
    assert text.startswith(f"--- flow:{flows[1].id[:8]}\n+++ flow:{flows[2].id[:8]}\n")
    assert '+      "content": "yo",' in text
