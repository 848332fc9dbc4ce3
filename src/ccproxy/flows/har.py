"""HAR 1.2 export: one page per flow, two entries per page.

`entries[2i]` is the request as forwarded with the provider's response as it came back;
`entries[2i+1]` is the client's request (the pre-pipeline snapshot) with the response the client
got. Credentials are masked unless the caller asks for the raw values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from ccproxy import __version__
from ccproxy.scrub import mask_credentials
from ccproxy.store.redact import MASK, redact_body, redact_url
from ccproxy.store.stored_flow import EVICTED, StoredFlow, header
from ccproxy.store.times import iso
from ccproxy.store.websocket import PART as WS_PART
from ccproxy.store.websocket import har_messages


class Sink(Protocol):
    """Where a streamed HAR goes: stdout, a file, or a pager that keeps one page (`dump_har`)."""

    def write(self, text: str, /) -> int: ...



def _error(ccp: dict[str, Any], masked: bool) -> str:
    """The flow's error text; masked, it goes through the one scrubber (`ccproxy.scrub`)."""
    text = str(ccp.get("error") or "")
    return mask_credentials(text, keep_sentinels=True) if masked else text

def _http_date(value: str) -> str | None:
    try:
        return parsedate_to_datetime(value).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (TypeError, ValueError, IndexError):
        return None


def _ms(start: float | None, end: float | None) -> float:
    if start is None or end is None:
        return -1
    return round(max(0.0, end - start) * 1000, 3)


def _headers(headers: list[Any] | None) -> list[dict[str, str]]:
    return [{"name": str(h[0]), "value": str(h[1])} for h in headers or []]


def _cookies(headers: list[Any] | None, name: str, masked: bool) -> list[dict[str, Any]]:
    """`Cookie` pairs, or each `Set-Cookie`'s pair with its attributes, as HAR cookie objects."""
    out: list[dict[str, Any]] = []
    for h in headers or []:
        if str(h[0]).lower() != name:
            continue
        pieces = [p.strip() for p in str(h[1]).split(";") if p.strip()]
        pairs = pieces if name == "cookie" else pieces[:1]
        for pair in pairs:
            key, _, value = pair.partition("=")
            cookie: dict[str, Any] = {"name": key.strip(), "value": MASK if masked else value.strip()}
            if name == "set-cookie":
                for attr in pieces[1:]:
                    akey, _, aval = attr.partition("=")
                    akey = akey.strip().lower()
                    if akey in ("path", "domain"):
                        cookie[akey] = aval.strip()
                    elif akey == "expires" and (when := _http_date(aval.strip())):
                        cookie["expires"] = when
                    elif akey == "httponly":
                        cookie["httpOnly"] = True
                    elif akey == "secure":
                        cookie["secure"] = True
            out.append(cookie)
    return out


def _text(body: bytes) -> tuple[str, str | None]:
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def _request(method: str, url: str, version: str, headers: list[Any] | None, body: bytes | None,
             raw_size: int, masked: bool) -> dict[str, Any]:
    ctype = header(headers, "content-type")
    req: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": version or "HTTP/1.1",
        "cookies": _cookies(headers, "cookie", masked),
        "headers": _headers(headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": raw_size,
    }
    if body:
        text, encoding = _text(redact_body(body, ctype) if masked else body)
        req["postData"] = {"mimeType": ctype, "params": [], "text": text}
        if encoding:
            req["postData"]["_encoding"] = encoding
    return req


def _response(sub: dict[str, Any] | None, headers: list[Any] | None, body: bytes | None, raw_size: int,
              masked: bool, missing: str) -> dict[str, Any]:
    if sub is None:
        return {
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
            "bodySize": -1, "comment": missing,
        }
    ctype = header(headers, "content-type")
    content: dict[str, Any] = {"size": len(body or b""), "mimeType": ctype or "x-unknown"}
    if body:
        content["text"], encoding = _text(redact_body(body, ctype) if masked else body)
        if encoding:
            content["encoding"] = encoding
        content["compression"] = max(0, len(body) - raw_size) if raw_size >= 0 else 0
    return {
        "status": int(sub.get("status_code") or 0),
        "statusText": str(sub.get("reason") or ""),
        "httpVersion": str(sub.get("http_version") or "HTTP/1.1"),
        "cookies": _cookies(headers, "set-cookie", masked),
        "headers": _headers(headers),
        "content": content,
        "redirectURL": header(headers, "location"),
        "headersSize": -1,
        "bodySize": raw_size,
    }


def _timings(req_start: float | None, req_end: float | None, resp_start: float | None,
             resp_end: float | None) -> dict[str, float]:
    return {
        "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
        "send": max(0.0, _ms(req_start, req_end)),
        "wait": max(0.0, _ms(req_end or req_start, resp_start)),
        "receive": max(0.0, _ms(resp_start, resp_end)),
    }


def _entry(flow: StoredFlow, started: float, request: dict[str, Any], response: dict[str, Any],
           timings: dict[str, float], comment: str, phase: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "pageref": flow.id,
        "startedDateTime": iso(started),
        "time": round(sum(v for v in timings.values() if v > 0), 3),
        "request": request,
        "response": response,
        "cache": {},
        "timings": timings,
        "comment": comment,
        "_resourceType": "fetch",
        "_ccproxy": {"phase": phase, "flow_id": flow.id},
    }
    peer = (flow.doc.get("server_conn") or {}).get("peername")
    if phase == "forwarded" and peer:
        entry["serverIPAddress"] = str(peer[0])
    return entry


def _url(raw: str | None, masked_value: str, masked: bool) -> str:
    return masked_value if masked or not raw else raw


def flow_entries(flow: StoredFlow, masked: bool = True) -> list[dict[str, Any]]:
    """The two entries of one flow: forwarded + provider response, then client request + client response."""
    doc, ccp, raw = flow.doc, flow.ccproxy, ({} if masked else flow.raw_headers())
    req, resp = doc.get("request") or {}, doc.get("response")
    upstream, client = ccp.get("upstream_response"), ccp.get("client_request")

    def hdrs(phase: str) -> list[Any] | None:
        if masked:
            return flow.headers(phase)
        return raw.get(phase) if raw.get(phase) is not None else flow.headers(phase)

    def size(phase: str) -> int:
        data = flow.raw_body(phase)
        return len(data) if data is not None else -1

    port = req.get("port")
    default = 443 if req.get("scheme") == "https" else 80
    host = str(req.get("host", ""))
    path = str(req.get("path", "") if masked else raw.get("request_path") or req.get("path", ""))
    fwd_url = f"{req.get('scheme', 'http')}://{host}{'' if port in (None, default) else f':{port}'}{path}"
    if masked:
        fwd_url = redact_url(fwd_url)
    fwd_req = _request(str(req.get("method", "")), fwd_url, str(req.get("http_version", "")),
                       hdrs("request"), flow.body("request"), size("request"), masked)
    if upstream is not None:
        upstream = {**upstream, "http_version": (resp or {}).get("http_version")}
    fwd_resp = _response(upstream, hdrs("upstream_response"), flow.body("upstream_response"),
                         size("upstream_response"), masked,
                         f"no provider response: {_error(ccp, masked) or 'ccproxy answered the client itself'}")
    resp_times = (resp or {}).get("timestamp_start"), (resp or {}).get("timestamp_end")
    forwarded = _entry(flow, req.get("timestamp_start") or flow.doc.get("timestamp_created") or 0.0, fwd_req,
                       fwd_resp, _timings(req.get("timestamp_start"), req.get("timestamp_end"), *resp_times),
                       "request as forwarded + the provider's response as it came back", "forwarded")
    client_url = _url(raw.get("client_url"), redact_url(str((client or {}).get("url", fwd_url))), masked)
    cli_started = (client or {}).get("timestamp_start") or req.get("timestamp_start") or 0.0
    cli_req = _request(str((client or req).get("method", "")), client_url,
                       str((client or {}).get("http_version") or req.get("http_version", "")),
                       hdrs("client_request") if client else hdrs("request"),
                       flow.body("client_request") if client else flow.body("request"),
                       size("client_request") if client else size("request"), masked)
    cli_resp = _response(resp, hdrs("response"), flow.body("response"), size("response"), masked,
                         f"the client got no response: {_error(ccp, masked) or 'flow failed'}")
    client_entry = _entry(flow, cli_started, cli_req, cli_resp, _timings(cli_started, cli_started, *resp_times),
                          "client request (before ccproxy changed it) + the response the client got", "client")
    add_websocket(flow, [forwarded, client_entry], masked)
    if flow.bodies_evicted:
        for entry in (forwarded, client_entry):
            entry["comment"] += f"; {EVICTED}"
            entry["_ccproxy"]["bodies_evicted"] = True
    return [forwarded, client_entry]


def add_websocket(flow: StoredFlow, entries: list[dict[str, Any]], masked: bool) -> None:
    """A WebSocket flow's messages on both entries (Chrome's `_webSocketMessages`); ccproxy relays them unchanged."""
    data = flow.raw_body(WS_PART)
    if data is None:
        return
    for entry in entries:
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = har_messages(data, masked)


COMMENT = ("entries[2i]: forwarded request + provider response; "
           "entries[2i+1]: client request + response the client got")


def _page(flow: StoredFlow, pair: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "startedDateTime": pair[1]["startedDateTime"],
        "id": flow.id,
        "title": f"{pair[1]['request']['method']} {pair[1]['request']['url']}",
        "pageTimings": {"onContentLoad": -1, "onLoad": -1},
        "comment": f"ccproxy flow {flow.id}: {pair[0]['response']['status']}"
                   + (f"; {EVICTED}" if flow.bodies_evicted else ""),
    }


def to_har(flows: list[StoredFlow], masked: bool = True) -> dict[str, Any]:
    """A multi-page HAR 1.2 document for the flows, in order (in memory: for small sets and tests)."""
    pages, entries = [], []
    for flow in flows:
        pair = flow_entries(flow, masked)
        pages.append(_page(flow, pair))
        entries.extend(pair)
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "ccproxy", "version": __version__},
            "pages": pages,
            "entries": entries,
            "comment": COMMENT,
        }
    }


def _nested(doc: Any, depth: int) -> str:
    """`doc` as indented JSON, shifted right to sit at `depth` inside the document."""
    pad = "\n" + "  " * depth
    return "  " * depth + json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", pad)


def write_har(flows: Iterable[StoredFlow], out: Sink, masked: bool = True) -> int:
    """The same document as `to_har`, written entry by entry as the flows come: memory holds one flow
    (and the small page list, written last), so exporting thousands of large agent flows stays flat.
    Returns how many flows were written."""
    head = {"version": "1.2", "creator": {"name": "ccproxy", "version": __version__}, "comment": COMMENT}
    out.write('{\n  "log": {\n')
    for key, value in head.items():
        out.write(f"    {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    out.write('    "entries": [')
    pages: list[dict[str, Any]] = []
    sep = "\n"
    for flow in flows:
        pair = flow_entries(flow, masked)
        pages.append(_page(flow, pair))
        for entry in pair:
            out.write(sep + _nested(entry, 3))
            sep = ",\n"
    out.write(("\n    " if pages else "") + '],\n    "pages": [')
    out.write(",".join("\n" + _nested(p, 3) for p in pages) + ("\n    " if pages else ""))
    out.write("]\n  }\n}\n")
    return len(pages)
