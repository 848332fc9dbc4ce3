"""A flow's mitmproxy state (`flow.get_state()`) made writable as a flow file, and masked for a dump.

mitmproxy writes a flow file (`/flows/dump`, `save.file`, `save_stream_file`) from `get_state()`,
whose `metadata` carries ccproxy's live `FlowMeta` object: its serializer refuses that and raised
with the object's repr (headers, prompt) in the message. Here the metadata becomes the plain
`.ccproxy` JSON, and for a dump every credential is masked the way `flows dump` masks it.
"""

from __future__ import annotations

from typing import Any

from ccproxy.flowmeta import META_KEY, FlowMeta
from ccproxy.store.redact import (
    redact_body,
    redact_header,
    redact_headers,
    redact_json,
    redact_path,
    redact_url,
)

_Scalar = (str, bytes, int, float, bool, type(None))


def serializable(value: Any) -> Any:
    """`value` with only what mitmproxy's tnetstring writer takes; anything else becomes None."""
    if isinstance(value, _Scalar):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        return [serializable(v) for v in value]
    if isinstance(value, dict):
        return {k: serializable(v) for k, v in value.items() if isinstance(k, str | bytes)}
    return None


def plain_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Flow metadata mitmproxy can write: ccproxy's `FlowMeta` as its JSON form, the rest made plain."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, FlowMeta):
            value = value.to_json()
        out[str(key)] = serializable(value)
    return out


def plain_state(state: dict[str, Any]) -> dict[str, Any]:
    """A `get_state()` dict whose metadata mitmproxy can write (nothing else changes)."""
    return {**state, "metadata": plain_metadata(state.get("metadata") or {})}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _masked_headers(fields: Any) -> list[list[bytes]]:
    out = []
    for name, value in fields or ():
        masked = redact_header(_text(name), _text(value))
        out.append([name, masked.encode("utf-8", "surrogateescape") if masked != _text(value) else value])
    return out


def _header(fields: Any, wanted: str) -> str:
    for name, value in fields or ():
        if _text(name).lower() == wanted:
            return _text(value)
    return ""


def _masked_message(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if not message:
        return message
    out = dict(message)
    out["headers"] = _masked_headers(message.get("headers"))
    if "path" in out and isinstance(out["path"], bytes | str):
        path = redact_path(_text(out["path"]))
        out["path"] = path.encode("utf-8", "surrogateescape") if isinstance(out["path"], bytes) else path
    content = message.get("content")
    # An encoded (gzip, br, ...) body is left as it is: it is not readable text in the file either.
    if isinstance(content, bytes) and not _header(message.get("headers"), "content-encoding"):
        out["content"] = redact_body(content, _header(message.get("headers"), "content-type"))
    return out


def _masked_ccproxy(doc: Any) -> Any:
    if not isinstance(doc, dict):
        return doc
    out = redact_json(doc)
    client = out.get("client_request")
    if isinstance(client, dict):
        client["headers"] = redact_headers(client.get("headers") or [])
        client["url"] = redact_url(str(client.get("url", "")))
    upstream = out.get("upstream_response")
    if isinstance(upstream, dict):
        upstream["headers"] = redact_headers(upstream.get("headers") or [])
    transform = out.get("transform")
    if isinstance(transform, dict) and transform.get("dest_url"):
        transform["dest_url"] = redact_url(str(transform["dest_url"]))
    return out


def masked_state(state: dict[str, Any]) -> dict[str, Any]:
    """A writable `get_state()` dict with API keys, tokens and cookies masked in every phase."""
    out = plain_state(state)
    out["request"] = _masked_message(out.get("request"))
    out["response"] = _masked_message(out.get("response"))
    metadata = dict(out["metadata"])
    if META_KEY in metadata:
        metadata[META_KEY] = _masked_ccproxy(metadata[META_KEY])
    out["metadata"] = metadata
    return out


def _masked_web_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = dict(message)
    for key in ("headers", "trailers"):
        if isinstance(out.get(key), list | tuple):
            out[key] = redact_headers(out[key])
    if isinstance(out.get("path"), str):
        out["path"] = redact_path(out["path"])
    return out


def masked_web_json(doc: dict[str, Any]) -> dict[str, Any]:
    """mitmweb's flow JSON (`flow_to_json`, what `GET /flows` and `/updates` carry) with credentials masked."""
    out = dict(doc)
    for phase in ("request", "response"):
        if phase in out:
            out[phase] = _masked_web_message(out[phase])
    return out
