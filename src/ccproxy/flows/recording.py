"""Recorded flows as an upstream: the recording file, and which recorded flow answers an incoming request.

A *recording* is a self-contained JSON file (`ccproxy flows export --recording FILE`): each flow's
JSON doc and its parts (bodies, SSE event logs with arrival times), credentials masked unless
exported `--unredacted`. A `provider: recorded` loads one (or a jq set over the local store) and
answers from it, so a script or agent runs offline, deterministically.

Matching an incoming request (its body, as the client sent it) to a recorded flow, first that applies:

1. **exact**: the sha256 of the body equals that of a recorded client request body;
2. **prefix**: among recorded flows that asked for the same model, the one whose message list
   (`messages`, `input` or `contents`, compared without `cache_control`) shares the longest prefix
   with the incoming one (at least one message); ties go to the flow whose message count is
   closest, then to the earliest recorded.

Anything else is a miss, reported with the closest recorded flow (its id, model and shared prefix).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccproxy.errors import ConfigError
from ccproxy.fileio import write_private_json
from ccproxy.store.conversation import messages_of, model_of, parse_json, prefixes
from ccproxy.store.redact import redact_body
from ccproxy.store.stored_flow import StoredFlow

KIND = "ccproxy-recording"
VERSION = 1
#: Parts a recording keeps: what matching and answering need, and what `flows show` shows.
PARTS = ("client_request", "request", "upstream_response", "response", "upstream_events", "client_events")
_REDACTED_PARTS = ("client_request", "request")


def to_recording(flows: Sequence[StoredFlow], redacted: bool = True) -> dict[str, Any]:
    """The recording document; `redacted` masks credential fields in request bodies (headers are masked in docs)."""
    out = []
    for flow in flows:
        parts = {}
        for name in PARTS + (() if redacted else ("raw_headers",)):
            data = flow.parts.get(name)
            if data is None:
                continue
            if redacted and name in _REDACTED_PARTS:
                data = redact_body(data, flow.content_type(name))
            parts[name] = base64.b64encode(data).decode("ascii")
        out.append({"doc": flow.doc, "parts": parts})
    return {"kind": KIND, "version": VERSION, "redacted": redacted, "flows": out}


def write_recording(path: Path, flows: Sequence[StoredFlow], redacted: bool = True) -> None:
    """Write the recording (mode 0600: it holds prompts and answers)."""
    write_private_json(path, to_recording(flows, redacted))


def read_recording(path: Path) -> list[StoredFlow]:
    """The flows of a recording file; refuses anything that is not one, or a version this ccproxy does not know."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"recording {path}: cannot read it ({exc}); write one with "
                          "`ccproxy flows export --recording FILE`") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ConfigError(f"{path} is not a ccproxy recording (no \"kind\": \"{KIND}\"); write one with "
                          "`ccproxy flows export --recording FILE`")
    if doc.get("version") != VERSION:
        raise ConfigError(f"recording {path} has format version {doc.get('version')!r}; this ccproxy reads "
                          f"version {VERSION}: export it again with this version")
    return [StoredFlow(f["doc"], {k: base64.b64decode(v) for k, v in f["parts"].items()}) for f in doc["flows"]]


@dataclass(frozen=True)
class Match:
    flow: StoredFlow
    how: str  # "exact" | "prefix"
    common: int  # messages shared with the incoming request (exact: all)

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow.id, "match": self.how, "common_messages": self.common}


@dataclass(frozen=True)
class Miss:
    """No recorded flow answers; `closest` is the best candidate of any model, for the error message."""

    model: str | None
    messages: int
    closest: StoredFlow | None
    common: int

    def message(self, provider: str) -> str:
        head = (f"recorded provider {provider!r}: no recorded flow matches this request (model {self.model!r}, "
                f"{self.messages} message(s))")
        if self.closest is None:
            return head + "; the recording has no flows with a request body"
        ccp = self.closest.ccproxy
        return (head + f"; closest: flow {self.closest.id[:8]} (model {ccp.get('model')!r}, "
                f"{self.common} message(s) in common). Record this request first, or set `unmatched: <provider>` "
                "to pass unmatched requests through")


@dataclass
class _Entry:
    flow: StoredFlow
    model: str | None
    prefixes: list[str]


class Recording:
    """The recorded flows of one provider, indexed for matching (only flows that got a 2xx answer)."""

    def __init__(self, flows: Sequence[StoredFlow]) -> None:
        self.by_hash: dict[str, StoredFlow] = {}
        self.entries: list[_Entry] = []
        self.by_id: dict[str, StoredFlow] = {}
        for flow in flows:
            status = (flow.doc.get("response") or {}).get("status_code") or 0
            body = request_body(flow)
            if not body or not 200 <= int(status) < 300:
                continue
            self.by_id[flow.id] = flow
            self.by_hash.setdefault(hashlib.sha256(body).hexdigest(), flow)
            doc = parse_json(body)
            self.entries.append(_Entry(flow, flow.ccproxy.get("model"), prefixes(messages_of(doc))))

    def __len__(self) -> int:
        return len(self.by_id)

    def match(self, body: bytes, path: str = "") -> Match | Miss:
        if (hit := self.by_hash.get(hashlib.sha256(body).hexdigest())) is not None:
            return Match(hit, "exact", len(messages_of(parse_json(body))))
        doc = parse_json(body)
        model, incoming = model_of(doc, path), prefixes(messages_of(doc))
        best: tuple[int, int, int] | None = None
        found: _Entry | None = None
        closest: tuple[int, _Entry] | None = None
        for order, entry in enumerate(self.entries):
            common = _common(entry.prefixes, incoming)
            if closest is None or common > closest[0]:
                closest = (common, entry)
            if entry.model != model or common == 0:
                continue
            key = (common, -abs(len(entry.prefixes) - len(incoming)), -order)
            if best is None or key > best:
                best, found = key, entry
        if found is not None and best is not None:
            return Match(found.flow, "prefix", best[0])
        return Miss(model, len(incoming), closest[1].flow if closest else None, closest[0] if closest else 0)


def request_body(flow: StoredFlow) -> bytes:
    """The request as the client sent it (as forwarded when the client phase was not recorded)."""
    return flow.body("client_request") or flow.body("request") or b""


def _common(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading messages two chained-prefix lists share (equal entry k: equal first k+1 messages)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # chained hashes: equal at k implies equal below k, so bisect
        mid = (lo + hi + 1) // 2
        if a[mid - 1] == b[mid - 1]:
            lo = mid
        else:
            hi = mid - 1
    return lo
