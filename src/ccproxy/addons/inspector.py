"""First in the chain: stamp the flow's source and snapshot the client request before anything changes it."""

from __future__ import annotations

import time

from mitmproxy import http

from ccproxy.flowmeta import ClientRequest, UpstreamResponse, get_meta


def source_of(flow: http.HTTPFlow) -> str:
    mode = getattr(flow.client_conn, "proxy_mode", None)
    kind = getattr(mode, "type_name", "")
    if kind == "regular":
        return "forward"  # `run --proxy`: the forward (HTTP CONNECT) listener
    return kind if kind in ("reverse", "wireguard") else "unknown"


def client_url(flow: http.HTTPFlow, source: str) -> str:
    """The URL the client asked for: in reverse mode mitmproxy has already swapped the host."""
    req = flow.request
    if source == "reverse":
        host = req.headers.get("host") or f"{req.host}:{req.port}"
        listen = getattr(flow.client_conn, "sockname", None)
        if not req.headers.get("host") and listen:
            host = f"{listen[0]}:{listen[1]}"
        return f"http://{host}{req.path}"
    return req.pretty_url


class Inspector:
    """Accept reverse, WireGuard and forward-proxy flows; everything later relies on `.ccproxy.source` and the snapshot."""

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        meta.source = source_of(flow)  # type: ignore[assignment]

    def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.client_request is not None:
            return  # a replay keeps the original snapshot
        req = flow.request
        meta.client_request = ClientRequest(
            method=req.method,
            url=client_url(flow, meta.source),
            http_version=req.http_version,
            headers=[(k, v) for k, v in req.headers.items(multi=True)],
            body=req.raw_content or b"",
            timestamp_start=req.timestamp_start or time.time(),
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            get_meta(flow).timestamp_first_byte = flow.response.timestamp_start or time.time()

    def response(self, flow: http.HTTPFlow) -> None:
        """Keep the provider's response as it came back, before any later addon rewrites it."""
        response = flow.response
        if response is None or flow.server_conn.timestamp_start is None:
            return  # answered by ccproxy itself (health, 501, auth error): nothing came from upstream
        meta = get_meta(flow)
        streamed = callable(response.stream)  # tapped: the bytes are in upstream_raw; `True` keeps them in the body
        meta.upstream_response = UpstreamResponse(
            status_code=response.status_code,
            reason=response.reason,
            headers=[(k, v) for k, v in response.headers.items(multi=True)],
            body=bytes(meta.upstream_raw) if streamed else (response.raw_content or b""),
        )
