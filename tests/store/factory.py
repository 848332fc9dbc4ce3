"""Build flow records the way the recorder does, without a daemon: for store, API and export tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccproxy.flowmeta import ClientRequest, FlowMeta, SSEEvent, TransformInfo, UpstreamResponse
from ccproxy.store.facts import Facts, facts_of, request_body
from ccproxy.store.record import Captured, FlowRecord, build_record
from ccproxy.store.sse import SSEParser
from ccproxy.store.stored_flow import StoredFlow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flows"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_events(name: str, t0: float = 1000.0) -> list[SSEEvent]:
    """Parse a recorded SSE fixture, stamping events 10 ms apart."""
    parser = SSEParser()
    events = parser.feed(fixture_bytes(name), now=t0)
    for i, ev in enumerate(events):
        ev.t = t0 + i * 0.01
    return events


def web_json(fid: str, ts: float, *, method: str = "POST", host: str = "127.0.0.1", port: int = 9999,
             path: str = "/v1/messages", req_headers: list[list[str]] | None = None, status: int | None = 200,
             resp_headers: list[list[str]] | None = None) -> dict[str, Any]:
    """A flow JSON shaped like mitmweb's `flow_to_json`."""
    doc: dict[str, Any] = {
        "id": fid, "intercepted": False, "is_replay": None, "type": "http", "modified": False, "marked": "",
        "comment": "", "timestamp_created": ts,
        "server_conn": {"peername": ["127.0.0.1", port], "address": [host, port]},
        "request": {
            "method": method, "scheme": "http", "host": host, "port": port, "path": path,
            "http_version": "HTTP/1.1", "headers": req_headers or [["content-type", "application/json"]],
            "contentLength": 0, "contentHash": "", "timestamp_start": ts, "timestamp_end": ts + 0.001,
            "pretty_host": host,
        },
    }
    if status is not None:
        doc["response"] = {
            "http_version": "HTTP/1.1", "status_code": status, "reason": "OK" if status == 200 else "Error",
            "headers": resp_headers or [["content-type", "application/json"]], "contentLength": 0,
            "contentHash": "", "timestamp_start": ts + 0.05, "timestamp_end": ts + 0.1,
        }
    return doc


def make_record(
    *,
    fid: str | None = None,
    ts: float = 1_700_000_000.0,
    body: dict[str, Any] | None = None,
    forwarded_body: dict[str, Any] | None = None,
    client_headers: list[tuple[str, str]] | None = None,
    forwarded_headers: list[list[str]] | None = None,
    response_body: bytes = b'{"type": "message", "content": [{"type": "text", "text": "hi"}]}',
    upstream_body: bytes | None = None,
    status: int | None = 200,
    path: str = "/v1/messages",
    upstream_events: list[SSEEvent] | None = None,
    client_events: list[SSEEvent] | None = None,
    resp_headers: list[list[str]] | None = None,
    provider: str = "anthropic",
) -> FlowRecord:
    """One finished flow through ccproxy: the client sent `body`, ccproxy forwarded `forwarded_body`."""
    fid = fid or str(uuid.uuid4())
    body = body if body is not None else {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}
    raw = json.dumps(body).encode()
    fwd = json.dumps(forwarded_body).encode() if forwarded_body is not None else raw
    client_headers = client_headers or [("content-type", "application/json"),
                                        ("x-api-key", "sk-ant-oat-ccproxy-anthropic")]
    forwarded_headers = forwarded_headers or [["content-type", "application/json"],
                                              ["x-api-key", "sk-real-secret-key-123"]]
    meta = FlowMeta(source="reverse", provider=provider, auth_injected=True)
    meta.client_request = ClientRequest("POST", f"http://127.0.0.1:4000{path}", "HTTP/1.1", client_headers, raw, ts)
    meta.transform = TransformInfo(mode="route", reason="sentinel", provider=provider,
                                   dest_url=f"http://127.0.0.1:9999{path}")
    up_headers = resp_headers or [["content-type", "application/json"]]
    if status is not None:
        meta.upstream_response = UpstreamResponse(
            status, "OK", [(h[0], h[1]) for h in up_headers],
            upstream_body if upstream_body is not None else response_body,
        )
    meta.upstream_events = upstream_events or []
    meta.client_events = client_events if client_events is not None else list(meta.upstream_events)
    web = web_json(fid, ts, path=path, req_headers=forwarded_headers, status=status, resp_headers=up_headers)
    return build_record(Captured(web=web, meta=meta, request_body=fwd,
                                 response_body=response_body if status is not None else None,
                                 error=None if status is not None else "connection reset",
                                 error_ts=None if status is not None else ts + 0.2))


def facts(records: list[FlowRecord]) -> list[Facts]:
    """Each record's session facts, as the store computes them when it writes the flow."""
    return [facts_of(r.doc, r.parts) for r in records]


def bodies(records: list[FlowRecord]) -> Callable[[str], Any]:
    """Flow id -> parsed request body, as `FlowLibrary` reads them from the store."""
    by_id = {r.id: r for r in records}
    return lambda fid: request_body(StoredFlow(by_id[fid].doc, by_id[fid].parts))


def viewer_blob(records: list[FlowRecord], redacted: bool = True, details: bool = True) -> dict[str, Any]:
    """The viewer's blob of `records`: the exported page's (`details`) or the light one the live page polls."""
    from ccproxy.viewer.data import light_data, viewer_data

    by_id = {r.id: r for r in records}
    docs = {r.id: r.doc for r in records}
    if not details:
        return light_data(facts(records), docs, bodies(records), redacted)
    return viewer_data(facts(records), docs, bodies(records),
                       lambda fid: StoredFlow(by_id[fid].doc, by_id[fid].parts), redacted)
