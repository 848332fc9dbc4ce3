"""The `.mflow` form: one request-only HTTPFlow in mitmproxy's own flow-file format.

Written with `mitmproxy.io.FlowWriter` and read with `FlowReader`, so `mitmdump -nr FILE` and
`mitmweb --rfile FILE` open it. The connections are placeholders (no peer address of the capture
is kept); the flow's metadata carries only the shape's order fields and provenance.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from ccproxy.errors import ShapeError
from ccproxy.shapes.envelope import MARKER, Shape, parse_body, with_extras

if TYPE_CHECKING:
    from mitmproxy import http


def to_flow(shape: Shape, scheme: str, host: str, port: int) -> http.HTTPFlow:
    """A request-only flow carrying the envelope; timestamps are the capture's."""
    from mitmproxy import connection, http

    ts = float(shape.source.get("captured_at") or 0.0)
    client = connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=ts)
    server = connection.Server(address=(host, port))
    flow = http.HTTPFlow(client, server)
    url = f"{scheme}://{host}" + ("" if port == (443 if scheme == "https" else 80) else f":{port}") + shape.path
    request = http.Request.make(shape.method, url, b"")
    # Set after make(), which adds content-length: a shape has no per-connection headers.
    request.headers = http.Headers([(k.encode(), v.encode()) for k, v in shape.headers])
    request.raw_content = shape.body_bytes()
    request.timestamp_start = request.timestamp_end = ts
    flow.request = request
    flow.metadata = {MARKER: shape.extras()}
    return flow


def dumps(flow: http.HTTPFlow) -> bytes:
    from mitmproxy import io as mio

    buf = io.BytesIO()
    mio.FlowWriter(buf).add(flow)
    return buf.getvalue()


def read_flows(data: bytes) -> list[Any]:
    """Every flow in a flow file; an unreadable file is a ShapeError."""
    from mitmproxy import exceptions
    from mitmproxy import io as mio

    try:
        return list(mio.FlowReader(io.BytesIO(data)).stream())
    except (exceptions.FlowReadException, ValueError, TypeError, KeyError) as exc:
        raise ShapeError(f"not a readable mitmproxy flow file: {exc}") from None


def from_flow(flow: Any, provider: str) -> Shape:
    """A request-only HTTPFlow back into a Shape (a hand-made one without ccproxy metadata works too)."""
    from mitmproxy import http

    if not isinstance(flow, http.HTTPFlow):
        raise ShapeError(f"the flow is a {type(flow).__name__}, not an HTTP flow")
    req = flow.request
    body = parse_body(req.get_content(strict=False) or b"")
    headers = [(k, v) for k, v in req.headers.items(multi=True)]
    shape = Shape(provider=provider, method=req.method, path=req.path, headers=headers, body=body)
    extras = flow.metadata.get(MARKER)
    shape = with_extras(shape, extras)
    if isinstance(extras, dict) and extras.get("provider"):
        shape.provider = str(extras["provider"])
    shape.source.setdefault("host", req.pretty_host)
    return shape
