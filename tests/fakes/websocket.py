"""The fake provider's Responses WebSocket (`GET /v1/responses` with `Upgrade: websocket`), as Codex CLI uses it.

Runs inside the fake's request handler thread on its blocking socket, with `wsproto` (sans-IO, a
mitmproxy dependency). With `FakeProvider.required_token` set, a handshake with another credential
is refused with 401. A `response.create` text message is answered with Responses stream events
(`response.created`, one `response.output_text.delta` per word, `response.completed`), each its own
text message; a binary message is echoed back as binary. A model ending in `close` gets a close
frame (1011) instead, one ending in `reset` a dropped connection. Every message received is kept in
`FakeProvider.ws_received`.
"""

from __future__ import annotations

import json
import socket
import uuid
from typing import TYPE_CHECKING, Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

if TYPE_CHECKING:
    from tests.fakes.provider import FakeProvider, RecordedRequest

#: Bounds every read of the socket, so a test that forgets to close cannot hang the fake.
READ_TIMEOUT = 30.0
MAX_MESSAGES = 1000


def is_upgrade(headers: dict[str, str]) -> bool:
    return "websocket" in headers.get("upgrade", "").lower()


def serve(fake: FakeProvider, rec: RecordedRequest, sock: socket.socket, rfile: Any) -> None:
    """Answer the handshake (the handler already read it) and talk until either side closes."""
    ws = WSConnection(ConnectionType.SERVER)
    head = f"GET {rec.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in rec.header_list) + "\r\n"
    ws.receive_data(head.encode("latin-1"))
    sock.settimeout(READ_TIMEOUT)
    for event in ws.events():
        if not isinstance(event, Request):
            continue
        if fake.required_token is not None and rec.credential() != fake.required_token:
            body = json.dumps({"error": {"message": "invalid api key", "type": "authentication_error"}}).encode()
            sock.sendall(ws.send(RejectConnection(
                status_code=401, headers=[(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())], has_body=True)))
            sock.sendall(ws.send(RejectData(data=body)))
            return
        # Compressed frames when the client offers them, as api.openai.com and Codex do: mitmproxy must inflate them.
        sock.sendall(ws.send(AcceptConnection(extensions=[PerMessageDeflate()])))
    for _ in range(MAX_MESSAGES):
        try:
            data = rfile.read1(65536)
        except (TimeoutError, OSError):
            return
        ws.receive_data(data or None)
        for event in ws.events():
            if isinstance(event, CloseConnection):
                if data:
                    sock.sendall(ws.send(event.response()))
                return
            if isinstance(event, Ping):
                sock.sendall(ws.send(event.response()))
            elif isinstance(event, Message):
                fake.ws_received.append(event.data)
                model = _model(event)
                if model.endswith("close"):  # the provider ends the socket with a close frame
                    sock.sendall(ws.send(CloseConnection(code=1011, reason="fake provider closed")))
                    return
                if model.endswith("reset"):  # ... or just drops the connection
                    sock.close()
                    return
                for out in _answer(event):
                    sock.sendall(ws.send(out))
        if not data:
            return


def _model(event: Message[Any]) -> str:
    try:
        doc = json.loads(event.data) if isinstance(event, TextMessage) else {}
    except ValueError:
        return ""
    return str(doc.get("model", "")) if isinstance(doc, dict) else ""


def _answer(event: Message[Any]) -> list[Message[Any]]:
    if isinstance(event, BytesMessage):
        return [BytesMessage(data=bytes(event.data))]
    try:
        doc = json.loads(event.data)
    except ValueError:
        return [TextMessage(data=json.dumps({"type": "error", "error": {"message": "not JSON"}}))]
    if doc.get("type") != "response.create":
        return [TextMessage(data=json.dumps({"type": "error", "error": {"message": f"unknown {doc.get('type')}"}}))]
    model, rid = str(doc.get("model", "fake-model")), f"resp_{uuid.uuid4().hex[:24]}"
    words = ["Hello ", "over ", "a ", "socket."]
    base = {"id": rid, "object": "response", "model": model, "output": []}
    events: list[dict[str, Any]] = [{"type": "response.created", "sequence_number": 0,
                                     "response": {**base, "status": "in_progress"}}]
    for i, word in enumerate(words, 1):
        events.append({"type": "response.output_text.delta", "sequence_number": i, "item_id": "msg_fake01",
                       "output_index": 0, "content_index": 0, "delta": word})
    text = "".join(words)
    item = {"type": "message", "id": "msg_fake01", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    usage = {"input_tokens": 7, "output_tokens": len(words), "total_tokens": 7 + len(words)}
    events.append({"type": "response.completed", "sequence_number": len(words) + 1,
                   "response": {**base, "status": "completed", "output": [item], "usage": usage}})
    return [TextMessage(data=json.dumps(e)) for e in events]
