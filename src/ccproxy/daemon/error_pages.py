"""Small, contained adjustments to mitmproxy: JSON error pages for SDK clients (built by
`addons/errors.py`), no idle UI broadcasts,
flow files (mitmweb's "Save", `/flows/dump`) that can hold ccproxy's metadata and mask credentials."""

from __future__ import annotations

import logging
from typing import Any

from ccproxy.addons.errors import error_json, json_error_response

log = logging.getLogger("ccproxy.inspector")


def install() -> None:
    """Swap the HTTP/1 error page builder; mitmproxy looks the function up at call time. HTTP/2 too."""
    from mitmproxy.proxy.layers.http import _http1

    module: Any = _http1
    module.make_error_response = json_error_response
    _install_h2()


def _install_h2() -> None:
    """mitmproxy's HTTP/2 layer writes its own page inline: an HTML body (`format_error`) under a
    literal `content-type: text/html` and its `server` header. The body builder is swapped for ccproxy's
    JSON page, and that one header list is given the JSON content type as it is sent."""
    from mitmproxy import version
    from mitmproxy.proxy.layers.http import _http2, _http_h2

    from ccproxy.addons.errors import error_page

    module: Any = _http2
    module.format_error = lambda status, message: error_page(status, message).content or b""
    conn: Any = _http_h2.BufferedH2Connection
    if getattr(conn.send_headers, "_ccproxy", False):
        return
    original = conn.send_headers
    ours = (b"server", version.MITMPROXY.encode())

    def send_headers(self: Any, stream_id: int, headers: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(headers, list) and ours in headers and (b"content-type", b"text/html") in headers:
            headers = [(k, b"application/json") if k == b"content-type" else (k, v) for k, v in headers if k != b"server"]
        return original(self, stream_id, headers, *args, **kwargs)

    send_headers._ccproxy = True  # type: ignore[attr-defined]
    conn.send_headers = send_headers


def quiet_broadcasts() -> None:
    """mitmweb serializes every flow update for its websocket even when no browser is connected;
    skip that work until someone opens the UI (it costs ~7% of the proxy's CPU under load)."""
    from mitmproxy.tools.web import app

    conn: Any = app.ClientConnection
    original = conn.broadcast_flow.__func__

    def broadcast_flow(cls: Any, type: str, f: Any) -> None:
        if cls.connections:
            original(cls, type, f)

    conn.broadcast_flow = classmethod(broadcast_flow)


def safe_flow_files() -> None:
    """Let mitmproxy write flow files again, and mask what mitmweb's "Save" (`GET /flows/dump`) hands out.

    mitmproxy's writer refuses ccproxy's `FlowMeta` metadata: every flow file failed, and the dump
    answered 500 after logging the refusal with the flow's repr. The writer now writes the metadata
    as its plain JSON form; the dump also masks API keys, tokens and cookies (as `flows dump` does)."""
    from mitmproxy.io import io as mio
    from mitmproxy.io import tnetstring
    from mitmproxy.tools.web import app

    from ccproxy.flows.mitmstate import plain_state

    def add(self: Any, f: Any) -> None:
        tnetstring.dump(plain_state(f.get_state()), self.fo)

    writer: Any = mio.FlowWriter
    writer.add = add
    handler: Any = app.DumpFlows
    # mitmweb wraps each handler method with its token check when the class is made; so must we.
    handler.get = app.AuthRequestHandler._require_auth(_dump_flows)


def _dump_flows(self: Any) -> None:
    """`GET /flows/dump[?filter=EXPR]`: the flows in mitmweb's view as a masked flow file."""
    from io import BytesIO

    from mitmproxy import flowfilter
    from mitmproxy.io import tnetstring

    from ccproxy.flows.mitmstate import masked_state

    expr = self.get_argument("filter", default="")
    try:
        match = flowfilter.parse(expr) if expr else None
    except ValueError as exc:
        _json_error(self, 400, f"invalid filter {expr!r}: {exc}; see mitmproxy's filter expressions")
        return
    try:
        with BytesIO() as bio:
            for f in self.view:
                if match is None or match(f):
                    tnetstring.dump(masked_state(f.get_state()), bio)
            data = bio.getvalue()
    except Exception as exc:  # one unwritable flow must not turn into a traceback with its content
        log.error("mitmweb /flows/dump failed: %s", type(exc).__name__)
        _json_error(self, 500, f"ccproxy could not write the flows ({type(exc).__name__}); "
                    "`ccproxy flows dump` exports the same flows from the store")
        return
    self.set_header("Content-Disposition", "attachment; filename=flows")
    self.set_header("Content-Type", "application/octet-stream")
    self.write(data)


def _json_error(handler: Any, status: int, text: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(error_json(status, text, "ccproxy_dump_error"))
