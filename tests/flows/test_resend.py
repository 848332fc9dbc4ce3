"""What `flows replay` sends for a recorded flow: as the client sent it, forwarded, or to another provider/model."""

from __future__ import annotations

import json

import pytest

from ccproxy.errors import UsageError
from ccproxy.flows.resend import REPLAY_HEADER, plan
from ccproxy.store.stored_flow import StoredFlow
from tests.store.factory import make_record


def sentinel(provider: str) -> str:
    return f"sk-ant-oat-ccproxy-{provider}"


def stored(**kw: object) -> StoredFlow:
    rec = make_record(**kw)  # type: ignore[arg-type]
    return StoredFlow(rec.doc, rec.parts)


def test_as_sent_is_the_clients_bytes_with_the_flows_provider_sentinel() -> None:
    flow = stored(client_headers=[("content-type", "application/json"), ("x-api-key", "sk-own-client-key"),
                                  ("anthropic-version", "2023-06-01")])
    out = plan(flow, sentinel)
    assert out.body == flow.body("client_request") and out.path == "/v1/messages" and out.method == "POST"
    headers = dict(out.headers)
    assert headers["x-api-key"] == "sk-ant-oat-ccproxy-anthropic" and headers["anthropic-version"] == "2023-06-01"
    assert headers[REPLAY_HEADER] == flow.id and "sk-own-client-key" not in json.dumps(out.headers)


def test_to_another_provider_and_model() -> None:
    flow = stored()
    out = plan(flow, sentinel, "openai/gpt-4o-mini")
    assert json.loads(out.body)["model"] == "gpt-4o-mini" and out.provider == "openai"
    assert dict(out.headers)["x-api-key"] == "sk-ant-oat-ccproxy-openai"  # the client's format's key header
    gemini = stored(path="/v1beta/models/gemini-2.5-flash:generateContent", body={"contents": []}, provider="gemini")
    moved = plan(gemini, sentinel, "gemini/gemini-2.5-pro")
    assert moved.path == "/v1beta/models/gemini-2.5-pro:generateContent" and moved.body == gemini.body("client_request")
    assert dict(moved.headers)["x-goog-api-key"] == "sk-ant-oat-ccproxy-gemini"


def test_forwarded_and_bad_bodies() -> None:
    flow = stored(forwarded_body={"model": "claude-x", "messages": [], "shaped": True})
    out = plan(flow, sentinel, forwarded=True)
    assert json.loads(out.body)["shaped"] is True and "sk-real-secret-key-123" not in json.dumps(out.headers)
    raw = make_record()
    raw.parts["client_request"] = b"not json"
    with pytest.raises(UsageError, match="not JSON"):
        plan(StoredFlow(raw.doc, raw.parts), sentinel, "openai/gpt-4o")
