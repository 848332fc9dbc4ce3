"""`shapes save`: the newest 2xx flow of the set that matches the capture pattern, made into a shape.

The request taken is the one forwarded to the provider (what earned the 2xx). Its headers come from
the store's masked copy, so a real credential is never read here; credentials, cookies, ccproxy's
own and per-connection fields are removed before anything is written, and the content fields
leave the body (see `merge.envelope_body`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import ShapeError
from ccproxy.shapes import sanitize
from ccproxy.shapes.envelope import Shape, parse_body
from ccproxy.shapes.merge import envelope_body
from ccproxy.shapes.profile import Profile
from ccproxy.store.stored_flow import StoredFlow

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig


def _status(doc: dict[str, Any]) -> int:
    status = (doc.get("response") or {}).get("status_code")
    return status if isinstance(status, int) else 0


def _ts(doc: dict[str, Any]) -> float:
    req = doc.get("request") or {}
    value = req.get("timestamp_start") or doc.get("timestamp_created") or 0.0
    return float(value)


def candidate(doc: dict[str, Any], profile: Profile) -> bool:
    """A 2xx flow whose forwarded path matches, and not itself a replay of a shape."""
    if not 200 <= _status(doc) < 300:
        return False
    if ((doc.get("ccproxy") or {}).get("shape") or {}).get("applied"):
        return False
    return profile.matches(str((doc.get("request") or {}).get("path", "")))


def pick(docs: Sequence[dict[str, Any]], profile: Profile) -> dict[str, Any]:
    """The newest candidate of the set; none is a ShapeError naming the pattern."""
    hits = [d for d in docs if candidate(d, profile)]
    if not hits:
        where = f"shaping.providers.{profile.name}.capture.path_pattern"
        raise ShapeError(
            f"no flow in the set ({len(docs)} flow(s)) was answered 2xx for a request path matching "
            f"{profile.path_pattern!r} ({where}); send one real request through ccproxy first "
            "(e.g. `ccproxy run --inspect -- <client>`), or widen the --jq filters"
        )
    return max(enumerate(hits), key=lambda item: (_ts(item[1]), item[0]))[1]


def _compact(raw: bytes) -> bool:
    return b'", "' not in raw and b'": ' not in raw


def build(flow: StoredFlow, profile: Profile) -> Shape:
    """The envelope of a stored flow's forwarded request."""
    doc = flow.doc
    req = doc.get("request") or {}
    raw = flow.body("request") or b""
    try:
        body = parse_body(raw)
    except ShapeError as exc:
        raise ShapeError(f"flow {flow.id[:8]}: {exc}; a shape needs a JSON API request") from None
    headers_in = [(str(h[0]), str(h[1])) for h in flow.headers("request") or []]
    headers, dropped_headers = sanitize.clean_headers(headers_in)
    path, dropped_query = sanitize.clean_path(str(req.get("path", "")))
    envelope, content = envelope_body(body, profile)
    dropped_body = sanitize.clean_body(envelope)
    return Shape(
        provider=profile.name,
        method=str(req.get("method", "POST")),
        path=path,
        headers=headers,
        body=envelope,
        header_order=[k.lower() for k, _ in headers_in],
        key_order=list(body),
        compact=_compact(raw),
        source={
            "flow_id": flow.id,
            "scheme": req.get("scheme", "https"),
            "host": req.get("pretty_host") or req.get("host", ""),
            "port": req.get("port"),
            "status_code": _status(doc),
            "captured_at": _ts(doc) or time.time(),
        },
        stripped={"headers": dropped_headers, "query": dropped_query, "body": dropped_body, "content": content},
    )


def capture(config: CCProxyConfig, config_dir: Path, profile: Profile, jq_filters: Sequence[str] = ()) -> Shape:
    """Resolve the flow set the way every `flows` command does, then build the newest match's shape."""
    from ccproxy.flows.library import FlowLibrary

    library = FlowLibrary(config, config_dir)
    doc = pick(library.docs(jq_filters), profile)
    flows = library.load([str(doc["id"])])
    if not flows:
        raise ShapeError(f"flow {str(doc['id'])[:8]} was removed while it was being read; try again")
    return build(flows[0], profile)
