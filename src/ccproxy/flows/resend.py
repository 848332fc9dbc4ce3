"""Resend a recorded request through the running daemon (`ccproxy flows replay`, the MCP `replay_flow` tool).

The request goes to the daemon's reverse listener, so today's routing applies, the new flow is recorded
like any other and links back (`x-ccproxy-replay-of` -> `.ccproxy.replay_of`). By default the body is
the one the client sent, byte for byte, to the path the client called; `forwarded` sends what ccproxy
forwarded instead, to the provider's path. `to` (PROVIDER[/MODEL]) sends it with PROVIDER's sentinel
(the router translates when PROVIDER speaks another wire format) and, with MODEL, that model in the
body (or a Gemini path). A replay spends money: it only ever runs on an explicit user action.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ccproxy.config.providers import DEFAULT_AUTH_HEADER
from ccproxy.errors import FlowError, UsageError
from ccproxy.store.redact import MASK
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.wire.endpoints import main_endpoint

REPLAY_HEADER = "x-ccproxy-replay-of"
_DROP = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "keep-alive",
         "x-api-key", "authorization", "x-goog-api-key", "api-key", REPLAY_HEADER}
_GEMINI_MODEL = re.compile(r"(/models/)([^/:]+)(:)")


@dataclass(frozen=True)
class Resend:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    provider: str | None


@dataclass(frozen=True)
class Sent:
    status: int
    ttfb_ms: float
    duration_ms: float
    error: str | None = None


def plan(flow: StoredFlow, sentinel_for: Any, to: str | None = None, forwarded: bool = False) -> Resend:
    """The request to send for `flow`; `sentinel_for(provider)` makes that provider's sentinel key."""
    ccp = flow.ccproxy
    client = ccp.get("client_request") or {}
    if forwarded:
        req = flow.doc.get("request") or {}
        path, headers, body = str(req.get("path") or "/"), req.get("headers") or [], flow.body("request")
    else:
        url = str(client.get("url") or "")
        path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "") if url else ""
        path = path or str((flow.doc.get("request") or {}).get("path") or "/")
        headers, body = client.get("headers") or [], flow.body("client_request")
        if body is None:
            body = flow.body("request")
    if body is None:
        raise FlowError(f"flow {flow.id[:8]} has no recorded request body to resend")
    named, _, model = (to or "").partition("/")
    provider: str | None = named or (str(ccp["provider"]) if ccp.get("provider") else None)
    if model:
        path, body = _with_model(path, body, model)
    endpoint = main_endpoint(path)
    out = [(str(k), str(v)) for k, v in headers if str(k).lower() not in _DROP and MASK not in str(v)]
    if provider:
        header = DEFAULT_AUTH_HEADER.get(endpoint.format if endpoint else "anthropic", "x-api-key")
        key = sentinel_for(provider)
        out.append((header, f"Bearer {key}" if header == "authorization" else key))
    out.append((REPLAY_HEADER, flow.id))
    method = str(client.get("method") or (flow.doc.get("request") or {}).get("method") or "POST")
    return Resend(method, path, out, body, provider)


def _with_model(path: str, body: bytes, model: str) -> tuple[str, bytes]:
    endpoint = main_endpoint(path)
    if endpoint is not None and endpoint.format == "gemini":
        return _GEMINI_MODEL.sub(lambda m: m.group(1) + model + m.group(3), path, count=1), body
    try:
        doc = json.loads(body)
    except ValueError:
        raise UsageError("the recorded request body is not JSON, so its model cannot be changed; "
                         "leave /MODEL out of --to") from None
    if not isinstance(doc, dict):
        raise UsageError("the recorded request body is not a JSON object; leave /MODEL out of --to")
    doc["model"] = model
    return path, json.dumps(doc, ensure_ascii=False).encode()


def send(base_url: str, resend: Resend, timeout: float = 600.0) -> Sent:
    """Send it and read the whole answer; the timings are the client's view (first byte, whole answer)."""
    request = urllib.request.Request(base_url.rstrip("/") + resend.path, data=resend.body, method=resend.method,
                                     headers=dict(resend.headers))
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            resp.read(1)
            first = time.monotonic()
            while resp.read(65536):
                pass
            status, error = int(resp.status), None
    except urllib.error.HTTPError as exc:
        first = time.monotonic()
        status, error = exc.code, exc.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        raise FlowError(f"the daemon at {base_url} did not answer the replay ({exc}); is `ccproxy start` running?") from None
    end = time.monotonic()
    return Sent(status, round((first - start) * 1000, 3), round((end - start) * 1000, 3), error)
