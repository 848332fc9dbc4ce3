"""What a recorded flow answers an incoming request: the recorded client response, in the new client's format.

The recorded answer is the response the recorded client got (`response`, with `client_events` for a
stream), in that client's wire format. A client of the same format gets it byte for byte (a stream
event by event, at the recorded offsets); a client of another format gets it through the wire
translators (`wire/translate.py`), stream or JSON alike. A stream cannot become a JSON answer here
or the reverse: that is a `Refusal` the caller reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ccproxy.store.conversation import parse_json
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.translate import StreamTranslator, TranslationError, client_options, translate_response

#: Response headers a replayed answer does not carry over (the server frames its own body).
_HOP = {"content-length", "content-encoding", "transfer-encoding", "connection", "date", "keep-alive"}


@dataclass
class Replayed:
    """An answer to send: status, headers, and either `body` or `chunks` (seconds after the first, bytes)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    streamed: bool = False


@dataclass
class Refusal:
    message: str


def recorded_format(flow: StoredFlow) -> str | None:
    """The wire format of the recorded client's response: the format its client called."""
    transform = flow.ccproxy.get("transform") or {}
    if transform.get("from_format"):
        return str(transform["from_format"])
    url = str((flow.ccproxy.get("client_request") or {}).get("url") or "")
    path = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if url else str((flow.doc.get("request") or {}).get("path"))
    endpoint = main_endpoint(path)
    return endpoint.format if endpoint else None


def wants_stream(body: Any, path: str) -> bool:
    endpoint = main_endpoint(path)
    if endpoint is not None and endpoint.format == "gemini":
        return endpoint.streaming_path
    return isinstance(body, dict) and bool(body.get("stream"))


def sse_bytes(event: str | None, data: str) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n").encode()


def replay(flow: StoredFlow, client_fmt: str | None, request_body: bytes, path: str) -> Replayed | Refusal:
    """The recorded answer for a client of `client_fmt` that sent `request_body` to `path`."""
    recorded_fmt = recorded_format(flow)
    events = flow.events("client")
    resp = flow.doc.get("response") or {}
    status = int(resp.get("status_code") or 200)
    headers = [(str(k), str(v)) for k, v in (resp.get("headers") or []) if str(k).lower() not in _HOP]
    doc = parse_json(request_body)
    streamed = bool(events)
    if wants_stream(doc, path) != streamed:
        asked, has = ("a stream", "a JSON answer") if not streamed else ("a JSON answer", "a stream")
        return Refusal(f"the client asked for {asked}, but recorded flow {flow.id[:8]} has {has}")
    same = client_fmt is None or recorded_fmt is None or client_fmt == recorded_fmt
    if not streamed:
        body = flow.body("response") or b""
        if same:
            return Replayed(status, headers, body)
        try:
            assert client_fmt is not None and recorded_fmt is not None
            out, _ = translate_response(body, recorded_fmt, client_fmt, _options(client_fmt, doc), [])
        except TranslationError as exc:
            return Refusal(f"recorded flow {flow.id[:8]} ({recorded_fmt}) cannot be answered in {client_fmt}: {exc}")
        return Replayed(status, _with_type(headers, "application/json"), json.dumps(out).encode())
    started = float((flow.ccproxy.get("client_request") or {}).get("timestamp_start") or 0.0)
    t0 = started if 0 < started <= events[0].t else events[0].t  # offsets from the request: TTFB replayed too
    if same:
        chunks = [(e.t - t0, sse_bytes(e.event, e.data)) for e in events]
        return Replayed(status, headers, chunks=chunks, streamed=True)
    assert client_fmt is not None and recorded_fmt is not None
    return Replayed(status, _with_type(headers, "text/event-stream"),
                    chunks=list(_translated(events, t0, recorded_fmt, client_fmt, doc)), streamed=True)


def _translated(events: list[Any], t0: float, upstream: str, client: str, doc: Any) -> Iterator[tuple[float, bytes]]:
    translator = StreamTranslator(upstream, client, _options(client, doc))
    for e in events:
        if out := translator(sse_bytes(e.event, e.data)):
            yield e.t - t0, out
    if tail := translator(b""):
        yield events[-1].t - t0, tail


def _options(client: str, doc: Any) -> Any:
    return client_options(client, doc if isinstance(doc, dict) else {})


def _with_type(headers: list[tuple[str, str]], ctype: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-type"] + [("content-type", ctype)]
