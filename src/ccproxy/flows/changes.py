"""What ccproxy changed in a flow (`compare`) and how request bodies drift across flows (`diff`).

Change detection runs on the unmasked values (so a swapped credential still shows as a change);
everything displayed is masked.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from ccproxy.store.redact import redact_body, redact_header, redact_url
from ccproxy.store.stored_flow import EVICTED, StoredFlow, pretty


@dataclass
class HeaderChange:
    name: str
    kind: str  # "+" added, "-" removed, "~" changed
    before: str | None = None
    after: str | None = None


@dataclass
class Side:
    """One pair of messages compared: client vs forwarded request, or provider vs client response."""

    present: bool = True
    before_label: str = ""
    after_label: str = ""
    url: tuple[str, str] | None = None
    status: tuple[str, str] | None = None
    headers: list[HeaderChange] = field(default_factory=list)
    body_diff: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def bodies_identical(self) -> bool:
        return self.present and not self.body_diff


@dataclass
class Comparison:
    id: str
    title: str
    request: Side
    response: Side
    shape: dict[str, Any] | None = None  # the `shape` hook's record (`.ccproxy.shape`), when it ran
    note: str | None = None  # why the bodies cannot be compared (evicted by the disk budget)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["request"]["bodies_identical"] = self.request.bodies_identical
        doc["response"]["bodies_identical"] = self.response.bodies_identical
        return doc


@dataclass
class BodyDiff:
    from_id: str
    to_id: str
    lines: list[str]
    phase: str = "request"

    @property
    def identical(self) -> bool:
        return not self.lines


def header_changes(before: list[Any] | None, after: list[Any] | None) -> list[HeaderChange]:
    """Per header name (case-insensitive), what differs between two header lists; values masked."""

    def group(headers: list[Any] | None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for h in headers or []:
            out.setdefault(str(h[0]).lower(), []).append(str(h[1]))
        return out

    a, b = group(before), group(after)
    changes = []
    for name in sorted(a.keys() | b.keys()):
        va, vb = a.get(name), b.get(name)
        if va == vb:
            continue
        shown_a = ", ".join(redact_header(name, v) for v in va) if va else None
        shown_b = ", ".join(redact_header(name, v) for v in vb) if vb else None
        kind = "~" if va and vb else ("-" if va else "+")
        changes.append(HeaderChange(name, kind, shown_a, shown_b))
    return changes


def body_diff(before: bytes | None, after: bytes | None, from_label: str, to_label: str,
              before_type: str = "", after_type: str = "") -> list[str]:
    """Unified diff of two bodies, JSON pretty-printed with sorted keys, credentials masked."""
    if (before or b"") == (after or b""):
        return []
    a = pretty(redact_body(before or b"", before_type)).splitlines(keepends=True)
    b = pretty(redact_body(after or b"", after_type)).splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, fromfile=from_label, tofile=to_label))
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def _forwarded_url(doc: dict[str, Any], path: str | None = None) -> str:
    req = doc.get("request") or {}
    scheme, host, port = req.get("scheme", "http"), str(req.get("host", "")), req.get("port")
    default = 443 if scheme == "https" else 80
    authority = (f"[{host}]" if ":" in host else host) + ("" if port in (None, default) else f":{port}")
    return f"{scheme}://{authority}{path if path is not None else req.get('path', '')}"


def compare_request(flow: StoredFlow) -> Side:
    short, raw = flow.id[:8], flow.raw_headers()
    side = Side(before_label=f"client:{short}", after_label=f"forwarded:{short}")
    client = flow.ccproxy.get("client_request")
    if not client:
        return Side(present=False, note="no client request snapshot (the flow failed before ccproxy saw it)")
    client_url = raw.get("client_url") or client.get("url", "")
    fwd_url = _forwarded_url(flow.doc, raw.get("request_path"))
    if client_url != fwd_url:
        side.url = (redact_url(client_url), redact_url(fwd_url))
    before_h = raw.get("client_request") or flow.headers("client_request")
    after_h = raw.get("request") or flow.headers("request")
    side.headers = header_changes(before_h, after_h)
    side.body_diff = body_diff(
        flow.body("client_request"), flow.body("request"), side.before_label, side.after_label,
        flow.content_type("client_request"), flow.content_type("request"),
    )
    return side


def _status(sub: dict[str, Any] | None) -> str:
    return f"{sub.get('status_code')} {sub.get('reason') or ''}".strip() if sub else "none"


def compare_response(flow: StoredFlow) -> Side:
    short, raw = flow.id[:8], flow.raw_headers()
    side = Side(before_label=f"provider:{short}", after_label=f"client:{short}")
    upstream, response = flow.ccproxy.get("upstream_response"), flow.doc.get("response")
    if not upstream:
        error = flow.ccproxy.get("error")
        note = "no provider response: ccproxy answered the client itself" if response else "no response at all"
        return Side(present=False, note=note + (f" ({error})" if error else ""))
    if not response:
        return Side(present=False, note=f"the client got no response ({flow.ccproxy.get('error') or 'flow failed'})")
    if _status(upstream) != _status(response):
        side.status = (_status(upstream), _status(response))
    side.headers = header_changes(
        raw.get("upstream_response") or upstream.get("headers"), raw.get("response") or response.get("headers")
    )
    side.body_diff = body_diff(
        flow.body("upstream_response"), flow.body("response"), side.before_label, side.after_label,
        flow.content_type("upstream_response"), flow.content_type("response"),
    )
    return side


def compare(flow: StoredFlow) -> Comparison:
    req = flow.doc.get("request") or {}
    client = flow.ccproxy.get("client_request") or {}
    title = f"{client.get('method') or req.get('method', '')} {redact_url(client.get('url') or _forwarded_url(flow.doc))}"
    return Comparison(flow.id, title, compare_request(flow), compare_response(flow), flow.ccproxy.get("shape"),
                      EVICTED if flow.bodies_evicted else None)


def sliding_diff(flows: list[StoredFlow], phase: str = "request") -> list[BodyDiff]:
    """f0->f1, f1->f2, ...: unified diffs of one phase's bodies across consecutive flows."""
    out = []
    for a, b in itertools.pairwise(flows):
        lines = body_diff(
            a.body(phase), b.body(phase), f"flow:{a.id[:8]}", f"flow:{b.id[:8]}",
            a.content_type(phase), b.content_type(phase),
        )
        out.append(BodyDiff(a.id, b.id, lines, phase))
    return out


# -- text ----------------------------------------------------------------------------------------


def side_text(side: Side, what: str) -> list[str]:
    if not side.present:
        return [f"  {side.note}\n"]
    lines: list[str] = []
    if side.url:
        lines += ["  URL:\n", f"  - {side.url[0]}\n", f"  + {side.url[1]}\n"]
    if side.status:
        lines.append(f"  status: {side.status[0]} -> {side.status[1]}\n")
    if side.headers:
        lines.append("  headers:\n")
        for ch in side.headers:
            if ch.kind == "~":
                lines.append(f"  ~ {ch.name}: {ch.before} -> {ch.after}\n")
            else:
                lines.append(f"  {ch.kind} {ch.name}: {ch.after if ch.kind == '+' else ch.before}\n")
    else:
        lines.append("  headers are identical\n")
    if side.body_diff:
        lines += side.body_diff
    else:
        lines.append(f"  {what} bodies are identical\n")
    return lines


def shape_text(shape: dict[str, Any] | None) -> list[str]:
    """Whether a shape was applied: its file and where each body field came from, or why not."""
    if not shape:
        return []
    if not shape.get("applied"):
        return [f"  shape: not applied ({shape.get('reason') or 'no reason recorded'})\n"]
    fields = ", ".join(f"{k}<-{v}" for k, v in (shape.get("fields") or {}).items())
    return [f"  shape: applied {shape.get('file')} ({shape.get('form')}); fields: {fields}\n"]


def comparison_text(c: Comparison) -> str:
    out = [f"=== flow {c.id[:8]}  {c.title}\n"]
    if c.note:
        out.append(f"note: {c.note}\n")
    out.append("--- request: client -> forwarded\n")
    out += shape_text(c.shape)
    out += side_text(c.request, "request")
    out.append("--- response: provider -> client\n")
    out += side_text(c.response, "response")
    return "".join(out)


def diff_text(d: BodyDiff) -> str:
    if d.identical:
        what = d.phase.replace("_", " ")
        return f"{d.from_id[:8]} -> {d.to_id[:8]}: {what} bodies are identical\n"
    return "".join(d.lines)
