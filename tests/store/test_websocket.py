"""A WebSocket flow's messages: stored as a part, summarised in `.ccproxy.websocket`, shown and exported masked."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import ClientRequest, FlowMeta, TransformInfo
from ccproxy.flows.har import to_har
from ccproxy.flows.show import show_json, show_text
from ccproxy.store.api import store_path
from ccproxy.store.conversation import conversation_id
from ccproxy.store.db import FlowStore
from ccproxy.store.record import PARTS, Captured, FlowRecord, build_record
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.store.websocket import PART, RawMessage, har_messages, messages_from_json, messages_json
from tests.flows.test_har import validate
from tests.store.factory import web_json

T0 = 1_700_000_000.0
SECRET = "sk-live-in-a-message-77"
MESSAGES: list[RawMessage] = [
    (T0 + 0.2, True, 1, json.dumps({"type": "response.create", "model": "gpt-x", "api_key": SECRET}).encode()),
    (T0 + 0.3, False, 1, b'{"type": "response.completed", "response": {"id": "resp_1"}}'),
    (T0 + 0.4, True, 2, b"\x00\xff"),
]
CLOSED = {"closed_by_client": True, "close_code": 1000, "close_reason": "bye", "timestamp_end": T0 + 0.5}


def socket_record(messages: list[RawMessage] | None = MESSAGES, state: dict[str, object] | None = None,
                  fid: str = "ws-1") -> FlowRecord:
    headers = [("upgrade", "websocket"), ("authorization", "Bearer sk-ant-oat-ccproxy-responses")]
    meta = FlowMeta(source="reverse", provider="responses", auth_injected=True)
    meta.client_request = ClientRequest("GET", "http://127.0.0.1:4000/v1/responses", "HTTP/1.1", headers, b"", T0)
    meta.transform = TransformInfo(mode="route", reason="sentinel", provider="responses",
                                   dest_url="http://127.0.0.1:9999/v1/responses")
    web = web_json(fid, T0, method="GET", path="/v1/responses", status=101,
                   req_headers=[["upgrade", "websocket"], ["authorization", "Bearer sk-real-forwarded-key"]],
                   resp_headers=[["upgrade", "websocket"], ["connection", "Upgrade"]])
    return build_record(Captured(web=web, meta=meta, response_body=b"", websocket_messages=messages,
                                 websocket_state=state if state is not None else CLOSED))


def stored(rec: FlowRecord) -> StoredFlow:
    return StoredFlow(json.loads(json.dumps(rec.doc)), dict(rec.parts))


def test_messages_are_a_part_in_har_shape_and_summarised_in_the_doc() -> None:
    rec = socket_record()
    assert list(rec.parts) == [p for p in PARTS if p in rec.parts] and PART in rec.parts
    entries = messages_from_json(rec.parts[PART])
    assert [(e["type"], e["opcode"], e["time"]) for e in entries] == [
        ("send", 1, T0 + 0.2), ("receive", 1, T0 + 0.3), ("send", 2, T0 + 0.4)
    ]
    assert json.loads(entries[0]["data"])["api_key"] == SECRET  # the part keeps what went over the wire
    assert base64.b64decode(entries[2]["data"]) == b"\x00\xff"
    ws = rec.doc["ccproxy"]["websocket"]
    assert ws == {"messages": 3, "sent": 2, "received": 1, "closed_by_client": True, "close_code": 1000,
                  "close_reason": "bye", "timestamp_end": T0 + 0.5}
    assert rec.doc["ccproxy"]["duration_ms"] == 500.0  # the socket's whole life, not just the 101


def test_a_plain_http_flow_has_no_websocket_part_or_field() -> None:
    rec = build_record(Captured(web=web_json("h-1", T0), meta=FlowMeta(), request_body=b"{}"))
    assert PART not in rec.parts and "websocket" not in rec.doc["ccproxy"]
    assert "websocket" not in show_text(stored(rec)) and "websocket_messages" not in show_json(stored(rec))


def test_har_entries_carry_webSocketMessages_masked_unless_asked() -> None:
    har = to_har([stored(socket_record())])
    validate(har)
    for entry in har["log"]["entries"]:
        assert entry["_resourceType"] == "websocket"
        assert [m["type"] for m in entry["_webSocketMessages"]] == ["send", "receive", "send"]
    first = har["log"]["entries"][0]["_webSocketMessages"][0]
    assert json.loads(first["data"])["api_key"] == "[REDACTED]" and SECRET not in json.dumps(har)
    raw = to_har([stored(socket_record())], masked=False)
    assert json.loads(raw["log"]["entries"][0]["_webSocketMessages"][0]["data"])["api_key"] == SECRET


def test_show_lists_each_message_with_direction_offset_and_close() -> None:
    flow = stored(socket_record())
    text = show_text(flow)
    assert "== websocket (3 messages: 2 sent, 1 received)" in text
    assert "+200.0 ms  client -> provider" in text and "+300.0 ms  provider -> client" in text
    assert "(binary, 2 bytes, base64) AP8=" in text
    assert "closed by the client: 1000 (bye)" in text
    assert SECRET not in text and "sk-real-forwarded-key" not in text
    doc = show_json(flow)
    assert [m["type"] for m in doc["websocket_messages"]] == ["send", "receive", "send"]
    assert SECRET not in json.dumps(doc)


def test_a_socket_still_open_says_so() -> None:
    open_state = {"closed_by_client": None, "close_code": None, "close_reason": None, "timestamp_end": None}
    text = show_text(stored(socket_record(messages=[], state=open_state)))
    assert "== websocket (0 messages: 0 sent, 0 received)" in text and "(still open when recorded)" in text


def test_har_messages_of_nothing_and_text_that_is_not_json() -> None:
    assert har_messages(None) == []
    data = messages_json([(T0, False, 1, b"plain words")])
    assert har_messages(data)[0]["data"] == "plain words"


def test_the_101_and_the_end_in_one_store_batch_keep_the_later(tmp_path: Path) -> None:
    """The recorder writes a socket at its 101 and again at its end; both may reach the writer together."""
    path = store_path(CCProxyConfig(), tmp_path)
    early = socket_record(messages=[], state={}, fid="ws-2")
    late = socket_record(fid="ws-2")
    other = build_record(Captured(web=web_json("h-2", T0), meta=FlowMeta(), request_body=b"{}"))
    with FlowStore(path, create=True) as store:
        store.put([early, other, late])
        assert sorted(store.ids()) == ["h-2", "ws-2"]  # the batch was written, the other flow with it
        doc = store.docs(["ws-2"])[0]
        assert doc["ccproxy"]["websocket"]["messages"] == 3
        assert len(messages_from_json(store.parts("ws-2")[PART])) == 3


def test_model_conversation_and_usage_of_a_responses_socket() -> None:
    def completed(i: int, n: int) -> RawMessage:
        doc = {"type": "response.completed", "response": {"id": f"resp_{i}", "usage": {
            "input_tokens": n, "output_tokens": 2, "total_tokens": n + 2, "input_tokens_details": {"cached_tokens": 1}}}}
        return (T0 + i, False, 1, json.dumps(doc).encode())

    create = {"type": "response.create", "model": "gpt-5-codex",
              "input": [{"role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]}]}
    turn = json.dumps(create).encode()
    messages: list[RawMessage] = [(T0, True, 1, turn), completed(1, 10), (T0 + 2, True, 1, turn), completed(3, 20),
                                  (T0 + 4, False, 1, b"not json"), (T0 + 5, False, 2, b"\x00")]
    ccp = socket_record(messages=messages).doc["ccproxy"]
    assert ccp["model"] == "gpt-5-codex"
    assert ccp["conversation_id"] == conversation_id({k: v for k, v in create.items() if k != "type"})
    assert ccp["conversation_id"] is not None  # the same id an HTTP turn of this conversation gets
    assert ccp["usage"] == {"input_tokens": 30, "output_tokens": 4, "cache_read_input_tokens": 2, "total_tokens": 34}


def test_a_warm_up_create_does_not_leave_the_socket_without_a_conversation() -> None:
    user = {"role": "user", "content": [{"type": "input_text", "text": "fix the build"}]}
    warm = {"type": "response.create", "model": "gpt-x", "generate": False, "input": []}
    real = {"type": "response.create", "model": "gpt-x", "input": [user]}
    messages: list[RawMessage] = [(T0 + 0.1, True, 1, json.dumps(warm).encode()),
                                  (T0 + 0.2, True, 1, json.dumps(real).encode())]
    doc = socket_record(messages).doc["ccproxy"]
    assert doc["conversation_id"] == conversation_id(real) and doc["conversation_id"] is not None
