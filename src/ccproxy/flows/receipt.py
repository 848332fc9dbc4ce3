"""A share-safe receipt of a set of flows (`flows export --receipt`): structure, sizes, hashes, tokens, timings.

No content: no prompt, answer, header value, query string or error text. What a flow *looked like*
(how many messages of which role, which content block types, how many tools), how big each stored
part was and its SHA-256 (so two parties holding the data can confirm they mean the same bytes),
token counts and timings. Enough to compare runs, bill, or report a bug in ccproxy without
sending anyone the conversation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ccproxy.store.record import PARTS
from ccproxy.store.stored_flow import StoredFlow

RECEIPT_VERSION = 1

#: Parts whose bytes are content; the receipt gives only their size and hash. `raw_headers` is never listed.
_BODY_PARTS = tuple(p for p in PARTS if p != "raw_headers")


def _blocks(content: Any) -> Counter[str]:
    if isinstance(content, str):
        return Counter({"text": 1})
    if isinstance(content, list):
        return Counter(str(b.get("type", "?")) for b in content if isinstance(b, dict))
    return Counter()


def request_structure(body: bytes | None) -> dict[str, Any] | None:
    """The shape of an LLM request body: top-level keys, messages per role, content block types, tools."""
    if not body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return {"json": False}
    if not isinstance(doc, dict):
        return {"json": True, "type": type(doc).__name__}
    messages = doc.get("messages") or doc.get("input") or doc.get("contents")
    out: dict[str, Any] = {"json": True, "keys": sorted(doc)}
    if isinstance(messages, list):
        roles: Counter[str] = Counter()
        blocks: Counter[str] = Counter()
        for m in messages:
            if isinstance(m, dict):
                roles[str(m.get("role", m.get("type", "?")))] += 1
                blocks += _blocks(m.get("content", m.get("parts")))
        out["messages"] = len(messages)
        out["roles"] = dict(sorted(roles.items()))
        out["blocks"] = dict(sorted(blocks.items()))
    if isinstance(doc.get("tools"), list):
        out["tools"] = len(doc["tools"])
    if "system" in doc or "systemInstruction" in doc or "instructions" in doc:
        out["system"] = True
    if "stream" in doc:
        out["stream"] = bool(doc["stream"])
    return out


def flow_receipt(flow: StoredFlow) -> dict[str, Any]:
    ccp, req, resp = flow.ccproxy, flow.doc.get("request") or {}, flow.doc.get("response") or {}
    transform = ccp.get("transform") or {}
    parts = {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name in _BODY_PARTS if (data := flow.raw_body(name)) is not None
    }
    return {
        "id": flow.id,
        "started": req.get("timestamp_start") or flow.doc.get("timestamp_created"),
        "source": ccp.get("source"),
        "method": req.get("method"),
        "host": req.get("pretty_host") or req.get("host"),
        "path": str(req.get("path", "")).split("?", 1)[0],
        "status": resp.get("status_code"),
        "failed": bool(ccp.get("error")),
        "provider": ccp.get("provider"),
        "model": ccp.get("model") or transform.get("model"),
        "transform": transform.get("mode"),
        "from_format": transform.get("from_format"),
        "to_format": transform.get("to_format"),
        "usage": ccp.get("usage"),
        "stop_reason": ccp.get("stop_reason"),
        "duration_ms": ccp.get("duration_ms"),
        "ttfb_ms": ccp.get("ttfb_ms"),
        "events": {"upstream": len(flow.events("upstream")), "client": len(flow.events("client"))},
        "parts": parts,
        "request": request_structure(flow.body("request")),
        "secrets_redacted": (ccp.get("extra") or {}).get("secrets_redacted"),
    }


def receipt(flows: Sequence[StoredFlow]) -> dict[str, Any]:
    """The receipt of a set: one entry per flow plus totals."""
    entries = [flow_receipt(f) for f in flows]
    totals: Counter[str] = Counter()
    for e in entries:
        for key, value in (e.get("usage") or {}).items():
            if isinstance(value, int):
                totals[key] += value
    return {"receipt": RECEIPT_VERSION, "generated": time.time(), "flows": len(entries),
            "usage": dict(sorted(totals.items())), "entries": entries}
