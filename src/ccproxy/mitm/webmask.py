"""mitmweb shows a client's own keys masked in every view it serves, as `flows dump` does.

mitmweb builds its views from the live flow: the flow list (`GET /flows`) and its live updates
(`/updates`) from `flow_to_json`, a body's content views (`/flows/<id>/<message>/content/<view>.json`)
and its download (`.../content.data`) from the message, and the "Export" menu (curl, httpie, raw)
through mitmproxy's `export` formats. Each is patched here to read a masked copy (API keys, tokens,
cookies, credential fields of JSON and form bodies: `ccproxy.store.redact`); the live flow, what
is forwarded and what the store records stay as they are. `/flows/dump` is masked in
`flowfiles.safe_flow_files`. Not a view: `POST /commands/<name>` runs any mitmproxy command
with the web token's full rights (`cut`, `save.file` read or write flows unmasked), like the
options page; docs/flows.md says so.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import http
from mitmproxy.websocket import WebSocketMessage

from ccproxy.mitm.flowstate import masked_web_json
from ccproxy.store.redact import redact_header, redact_path, redact_raw


def _masked_body(message: http.Message) -> bytes:
    body = message.get_content(strict=False) or b""
    return redact_raw(body, message.headers.get("content-type", ""))


def masked_message(message: Any) -> Any:
    """A copy of an HTTP or WebSocket message with credential headers, query values and body fields masked."""
    if isinstance(message, WebSocketMessage):
        return WebSocketMessage(message.type, message.from_client, redact_raw(message.content),
                                message.timestamp, message.dropped, message.injected)
    if not isinstance(message, http.Message):
        return message
    copy = message.copy()
    body = _masked_body(message)
    copy.headers.fields = tuple(
        (k, redact_header(k.decode("latin-1"), v.decode("latin-1")).encode("latin-1", "replace"))
        for k, v in message.headers.fields if k.lower() != b"content-encoding"
    )
    copy.raw_content = body
    if isinstance(copy, http.Request):
        copy.path = redact_path(copy.path)
    return copy


def masked_flow(flow: http.HTTPFlow) -> http.HTTPFlow:
    """A copy of the flow whose request and response are masked (for the export formats)."""
    copy: http.HTTPFlow = flow.copy()
    copy.request = masked_message(flow.request)
    if flow.response is not None:
        copy.response = masked_message(flow.response)
    return copy


def install() -> None:
    """Patch the views mitmweb serves and mitmproxy's export formats to read masked copies."""
    from mitmproxy.addons import export
    from mitmproxy.tools.web import app

    if getattr(app, "_ccproxy_masked", False):
        return
    app._ccproxy_masked = True  # type: ignore[attr-defined]
    unmasked = app.flow_to_json

    def masked_json(f: Any) -> dict[str, Any]:
        return masked_web_json(unmasked(f))

    def flows_get(self: Any) -> None:
        self.write([masked_json(f) for f in self.view])

    flows: Any = app.Flows
    flows.get = app.AuthRequestHandler._require_auth(flows_get)

    conn: Any = app.ClientConnection

    def broadcast_flow(cls: Any, type: str, f: Any) -> None:
        if not cls.connections:  # no browser: skip the work (see broadcasts.quiet_broadcasts)
            return
        flow_json = masked_json(f)
        for c in cls.connections:
            c._broadcast_flow(type, f, flow_json)

    conn.broadcast_flow = classmethod(broadcast_flow)

    content: Any = app.FlowContent
    unmasked_get = getattr(content.get, "__wrapped__", content.get)  # mitmweb's, before its token check

    def content_get(self: Any, flow_id: str, message: str) -> None:
        ctype = getattr(self.flow, message).headers.get("content-type", "")
        write = self.write
        self.write = lambda data: write(redact_raw(data, ctype))
        unmasked_get(self, flow_id, message)

    content.get = app.AuthRequestHandler._require_auth(content_get)

    view: Any = app.FlowContentView
    view._ccproxy_message_to_json = view.message_to_json

    def message_to_json(self: Any, view_name: str, message: Any, flow: Any, *args: Any, **kwargs: Any) -> Any:
        return view._ccproxy_message_to_json(self, view_name, masked_message(message), flow, *args, **kwargs)

    view.message_to_json = message_to_json

    for name, fmt in list(export.formats.items()):
        export.formats[name] = _masking(fmt)


def _masking(fmt: Any) -> Any:
    def masked(f: Any) -> Any:
        return fmt(masked_flow(f) if isinstance(f, http.HTTPFlow) else f)

    return masked
