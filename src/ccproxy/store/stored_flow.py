"""A flow read back from the store: its JSON doc and the four phases' bodies, decoded on demand."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field, fields
from typing import Any

from ccproxy.flowmeta import ClientRequest, FlowMeta, SSEEvent, TransformInfo, UpstreamResponse
from ccproxy.store import answer as answers
from ccproxy.store.record import events_from_json

#: What every view says of a flow whose bodies `flows.retention.max_disk_mb` evicted.
EVICTED = ("bodies evicted by the disk budget (flows.retention.max_disk_mb): the summary and facts of this "
           "flow remain, its bodies and event logs are gone; raise the budget to keep more")


def header(headers: list[Any] | None, name: str) -> str:
    for h in headers or []:
        if str(h[0]).lower() == name.lower():
            return str(h[1])
    return ""


def decode_body(data: bytes, encoding: str) -> bytes:
    """Undo a `content-encoding` (gzip, deflate, br, zstd); on failure the captured bytes come back."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif coding == "br":
                import brotli  # type: ignore[import-untyped]

                data = brotli.decompress(data)
            elif coding == "zstd":
                import zstandard

                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            else:
                return data
    except Exception:
        return data
    return data


def pretty(data: bytes) -> str:
    """JSON pretty-printed with sorted keys (stable for diffs); anything else as UTF-8 text."""
    text = data.decode("utf-8", "replace")
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            return json.dumps(json.loads(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        except ValueError:
            pass
    return text


@dataclass
class StoredFlow:
    doc: dict[str, Any]
    parts: dict[str, bytes] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def ccproxy(self) -> dict[str, Any]:
        return dict(self.doc.get("ccproxy") or {})

    @property
    def bodies_evicted(self) -> bool:
        """The disk budget dropped this flow's bodies (`.ccproxy.bodies_evicted`)."""
        return bool((self.doc.get("ccproxy") or {}).get("bodies_evicted"))

    def headers(self, phase: str) -> list[list[str]] | None:
        """Masked headers of a phase (None when the phase did not happen)."""
        if phase == "request":
            return (self.doc.get("request") or {}).get("headers")
        if phase == "response":
            resp = self.doc.get("response")
            return resp.get("headers") if resp else None
        sub = self.ccproxy.get(phase)
        return sub.get("headers") if sub else None

    def raw_headers(self) -> dict[str, Any]:
        """The unmasked headers and URLs, for `dump --unredacted` only."""
        data = self.parts.get("raw_headers")
        return dict(json.loads(data)) if data else {}

    def has(self, phase: str) -> bool:
        return phase in self.parts or self.headers(phase) is not None

    def raw_body(self, phase: str) -> bytes | None:
        return self.parts.get(phase)

    def body(self, phase: str) -> bytes | None:
        """A phase's body with its content-encoding undone."""
        data = self.parts.get(phase)
        if data is None:
            return None
        return decode_body(data, header(self.headers(phase), "content-encoding"))

    def events(self, side: str) -> list[SSEEvent]:
        """`upstream` or `client` SSE events with arrival times."""
        data = self.parts.get(f"{side}_events")
        return events_from_json(data) if data else []

    def answer(self, side: str) -> answers.Answer | None:
        """The final message of the provider's (`upstream`) or the client's (`client`) response."""
        events = self.events(side)
        if events:
            return answers.from_events(events)
        body = self.body("upstream_response" if side == "upstream" else "response")
        return answers.from_body(body) if body else None

    def content_type(self, phase: str) -> str:
        return header(self.headers(phase), "content-type")

    def meta(self, cls: type[FlowMeta] = FlowMeta) -> FlowMeta:
        """The flow's metadata rebuilt from the store (for a restarted daemon's mitmweb view)."""
        ccp = self.ccproxy
        meta = cls(
            source=ccp.get("source") or "unknown",
            provider=ccp.get("provider"),
            auth_injected=bool(ccp.get("auth_injected")),
            session_id=ccp.get("session_id"),
            conversation_id=ccp.get("conversation_id"),
            usage=ccp.get("usage"),
            error=ccp.get("error"),
            warnings=list(ccp.get("warnings") or []),
            upstream_events=self.events("upstream"),
            client_events=self.events("client"),
        )
        meta.load_extra(ccp.get("extra") or {})
        meta.restored = True
        if ccp.get("transform"):
            known = {f.name for f in fields(TransformInfo)}
            meta.transform = TransformInfo(**{k: v for k, v in ccp["transform"].items() if k in known})
        client = ccp.get("client_request")
        if client:
            meta.client_request = ClientRequest(
                client["method"], client["url"], client.get("http_version", "HTTP/1.1"),
                [(str(h[0]), str(h[1])) for h in client.get("headers") or []],
                self.parts.get("client_request", b""), float(client.get("timestamp_start") or 0.0),
            )
        up = ccp.get("upstream_response")
        if up:
            meta.upstream_response = UpstreamResponse(
                int(up["status_code"] or 0), str(up.get("reason") or ""),
                [(str(h[0]), str(h[1])) for h in up.get("headers") or []], self.parts.get("upstream_response", b""),
            )
        return meta
