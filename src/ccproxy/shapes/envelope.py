"""A shape: the envelope of one captured request (method, path, headers in order, body without content).

Two files hold the same envelope. The JSON patch artifact (`<provider>.json`) is the default:
readable, diffable, editable. The `.mflow` form is a request-only mitmproxy flow file
(`mitmdump -nr`, `mitmweb --rfile`) whose metadata carries the fields below that HTTP has no
place for. Both are read back into one `Shape`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from ccproxy.errors import ShapeError

SHAPE_VERSION = 1
#: The top-level key of the JSON form and the mflow metadata key; its value is the format version.
MARKER = "ccproxy_shape"


@dataclass
class Shape:
    """One provider's envelope; `header_order`/`key_order` keep the capture's order of every name it had."""

    provider: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: dict[str, Any]
    header_order: list[str] = field(default_factory=list)
    key_order: list[str] = field(default_factory=list)
    compact: bool = True  # the client wrote its JSON without spaces after `,` and `:`
    source: dict[str, Any] = field(default_factory=dict)
    stripped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return self.path.partition("?")[2]

    def header_names(self) -> list[str]:
        return [k.lower() for k, _ in self.headers]

    def body_bytes(self, body: dict[str, Any] | None = None) -> bytes:
        """`body` (default: the envelope) serialized the way the captured client wrote JSON."""
        separators = (",", ":") if self.compact else (", ", ": ")
        doc = self.body if body is None else body
        return json.dumps(doc, ensure_ascii=False, separators=separators).encode()

    def copy(self) -> Shape:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON patch artifact."""
        return {
            MARKER: SHAPE_VERSION,
            "provider": self.provider,
            "source": self.source,
            "request": {
                "method": self.method,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers],
                "header_order": self.header_order,
                "key_order": self.key_order,
                "compact_json": self.compact,
                "body": self.body,
            },
            "stripped": self.stripped,
        }

    def extras(self) -> dict[str, Any]:
        """What the mflow form keeps in `flow.metadata[MARKER]`."""
        return {
            "version": SHAPE_VERSION,
            "provider": self.provider,
            "source": self.source,
            "header_order": self.header_order,
            "key_order": self.key_order,
            "compact_json": self.compact,
            "stripped": self.stripped,
        }


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShapeError(f"{what} must be a list of strings")
    return list(value)


def parse_headers(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ShapeError("request.headers must be a list of [name, value] pairs")
    out = []
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise ShapeError(f"request.headers: {item!r} is not a [name, value] pair of strings")
        out.append((item[0], item[1]))
    return out


def parse_body(raw: bytes | str | Any) -> dict[str, Any]:
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ShapeError(f"the request body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ShapeError("the request body is not a JSON object")
    return raw


def _stripped(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShapeError("stripped must be a mapping of lists")
    return {str(k): _str_list(v, f"stripped.{k}") for k, v in value.items()}


def with_extras(shape: Shape, extras: Any) -> Shape:
    """Fill the order/source fields from the JSON form's request or the mflow metadata (both optional)."""
    if extras is None:
        extras = {}
    if not isinstance(extras, dict):
        raise ShapeError(f"{MARKER} metadata must be a mapping")
    shape.header_order = _str_list(extras.get("header_order"), "header_order") or shape.header_names()
    shape.key_order = _str_list(extras.get("key_order"), "key_order") or list(shape.body)
    shape.compact = bool(extras.get("compact_json", True))
    source = extras.get("source") or {}
    if not isinstance(source, dict):
        raise ShapeError("source must be a mapping")
    shape.source = source
    shape.stripped = _stripped(extras.get("stripped"))
    return shape


def from_json(doc: Any, provider: str) -> Shape:
    """The JSON form back into a Shape; a malformed document is a ShapeError saying what is wrong."""
    if not isinstance(doc, dict):
        raise ShapeError("the file is not a JSON object")
    if doc.get(MARKER) != SHAPE_VERSION:
        raise ShapeError(f"`{MARKER}: {SHAPE_VERSION}` is missing: not a ccproxy shape (or a newer format)")
    req = doc.get("request")
    if not isinstance(req, dict):
        raise ShapeError("`request` is missing or not a mapping")
    method, path = req.get("method"), req.get("path")
    if not isinstance(method, str) or not method:
        raise ShapeError("request.method must be a non-empty string")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ShapeError("request.path must be a string starting with '/'")
    shape = Shape(
        provider=str(doc.get("provider") or provider),
        method=method,
        path=path,
        headers=parse_headers(req.get("headers")),
        body=parse_body(req.get("body")),
    )
    return with_extras(shape, {**req, "source": doc.get("source"), "stripped": doc.get("stripped")})
