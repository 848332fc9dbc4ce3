"""Last word on the request: strip `x-ccproxy-*` headers and never let a sentinel key leave.

A sentinel key is refused (502) wherever a credential can ride, in every form the upstream will
read (`ccproxy.wire.body`): any header (percent-decoded, Basic credentials base64-decoded), the
URL (percent-decoded), and a body value that is a sentinel key as a whole (`"api_key": "sk-..."`,
`"Bearer sk-..."`, `key=sk-...` in a form, a multipart field, a text body) after the
content-encoding chain, the charset, JSON escapes and percent-encoding are undone; and the same
in every message a client sends on a WebSocket. A sentinel key quoted inside text (a prompt, a file
a tool read, JSON inside a string) is data, not a credential, and passes: refusing it would break
every conversation that ever quoted ccproxy's own docs or config. A body ccproxy cannot decode
(unknown or broken content-encoding) on a route where ccproxy injected a credential is refused
with a 415 in the client's format: nothing would vouch for what it carries.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, http

from ccproxy.auth.sentinel import SENTINEL_ANYCASE, SENTINEL_PREFIX, is_sentinel_credential
from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors
from ccproxy.wire.body import UndecodableBody, body_values, decode_content, header_forms, url_forms
from ccproxy.wire.neutral import ApiError
from ccproxy.wire.translate import CODECS

log = logging.getLogger("ccproxy.sanitizer")

INTERNAL_PREFIX = "x-ccproxy-"
_INTERNAL = INTERNAL_PREFIX.encode()


def sentinel_in_payload(payload: bytes, content_type: str) -> bool:
    """A decoded body (or a WebSocket message) carries a sentinel key as a value's whole."""
    return any(is_sentinel_credential(v) for v in body_values(payload, content_type, SENTINEL_PREFIX))


def sentinel_in_body(request: http.Request) -> bool:
    """A body value carries a sentinel key (see the module docstring). Raises UndecodableBody."""
    raw = request.raw_content
    if not raw:
        return False
    body = decode_content(raw, request.headers.get_all("content-encoding"))
    return sentinel_in_payload(body, request.headers.get("content-type", ""))


def leaks_sentinel(request: http.Request) -> str | None:
    """Where a sentinel key would leave the machine, if anywhere. Raises UndecodableBody."""
    for name, value in request.headers.fields:
        text = value.decode("latin-1")
        if any(SENTINEL_ANYCASE.search(form) for form in header_forms(text)):
            return f"header {name.decode('latin-1')}"
    if any(SENTINEL_ANYCASE.search(form) for form in url_forms(request.path)):
        return "URL"
    if sentinel_in_body(request):
        return "request body"
    return None


def _refuse_sentinel(flow: http.HTTPFlow, where: str) -> None:
    meta = get_meta(flow)
    message = (
        f"refused to forward: the sentinel key is still in the {where}; "
        f"ccproxy could not swap in a credential (provider {meta.provider or 'unknown'}). "
        "Check the sentinel name against `providers` in ccproxy.yaml."
    )
    log.warning("flow %s: %s", flow.id[:8], message)
    errors.answer(flow, 502, "ccproxy_sentinel_error", message)


def _refuse_undecodable(flow: http.HTTPFlow, why: str) -> None:
    meta = get_meta(flow)
    message = (
        f"refused to forward: ccproxy cannot decode the request body ({why}), so it cannot check that "
        "no sentinel key rides in it on a route where it adds your credential. Send the body "
        "uncompressed or as gzip, deflate, br or zstd, named once in content-encoding."
    )
    log.warning("flow %s: %s", flow.id[:8], message)
    client_format = meta.transform.from_format if meta.transform else None
    if client_format not in CODECS:
        client_format = None
    errors.answer_in_format(flow, client_format, ApiError("invalid_request", message, status=415))


class EgressSanitizer:
    """Runs after every request-stage addon and again on a replay; checks every client WebSocket message."""

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        headers = flow.request.headers
        if any(name.lower().startswith(_INTERNAL) for name, _ in headers.fields):
            headers.fields = tuple(f for f in headers.fields if not f[0].lower().startswith(_INTERNAL))
        try:
            where = leaks_sentinel(flow.request)
        except UndecodableBody as exc:
            raw = flow.request.raw_content or b""
            if get_meta(flow).auth_injected or SENTINEL_PREFIX.encode() in raw.lower():
                _refuse_undecodable(flow, str(exc))
            return
        if where:
            _refuse_sentinel(flow, where)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        ws = flow.websocket
        if ws is None or not ws.messages:
            return
        message = ws.messages[-1]
        if not message.from_client:
            return
        try:
            leaked = sentinel_in_payload(message.content, "application/json")
        except UndecodableBody:
            leaked = False
        if not leaked:
            return
        message.drop()
        text = (
            "refused to forward a WebSocket message: it carries the sentinel key as a value; ccproxy "
            "swaps credentials in the handshake only. Remove the key from the message."
        )
        get_meta(flow).error = text
        log.warning("flow %s: %s", flow.id[:8], text)
        event = errors.websocket_error(400, "ccproxy_sentinel_error", text)
        ctx.master.commands.call("inject.websocket", flow, True, event, True)
