"""The library behind `ccproxy shapes save|list`: the CLI and the MCP server call these with the same semantics.

`save` resolves the flow set like every `flows` command (stored -> `flows.default_jq_filters` ->
each jq filter), takes the newest matching 2xx flow and writes its envelope; `list_shapes` gives
the rows `shapes list --json` prints. Nothing here returns a header value or a body: the answers
name what was saved and where, so they are safe to hand to an agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import ShapeError
from ccproxy.shapes.capture import capture
from ccproxy.shapes.envelope import Shape
from ccproxy.shapes.profile import resolve, shapes_dir
from ccproxy.shapes.store import Form, ShapeFile, ShapeStore, check_name, parse_file

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig


def endpoint(shape: Shape) -> str:
    """`METHOD host/path` of the captured request, as `shapes list|show` print it."""
    host = str(shape.source.get("host") or "")
    return f"{shape.method} {host}{shape.path}"


@dataclass(frozen=True)
class Saved:
    """What `save` wrote: the file, the shape in it, and the other form it replaced (if any)."""

    file: ShapeFile
    shape: Shape
    replaced: Path | None

    @property
    def provider(self) -> str:
        return self.file.provider

    @property
    def form(self) -> Form:
        return self.file.form

    @property
    def flow_id(self) -> str:
        return str(self.shape.source.get("flow_id") or "")

    @property
    def endpoint(self) -> str:
        return endpoint(self.shape)

    def to_json(self) -> dict[str, Any]:
        """Names only (header names, body keys, removed fields): no header value, no body, no credential."""
        src = self.shape.source
        return {
            "file": str(self.file.path),
            "provider": self.provider,
            "form": self.form,
            "flow_id": self.flow_id,
            "endpoint": self.endpoint,
            "status_code": src.get("status_code"),
            "captured_at": src.get("captured_at"),
            "headers": [k for k, _ in self.shape.headers],
            "body_keys": list(self.shape.body),
            "removed": {k: list(v) for k, v in self.shape.stripped.items()},
            "replaced": str(self.replaced) if self.replaced else None,
        }


def _port(src: dict[str, Any]) -> int:
    port = src.get("port")
    if isinstance(port, int):
        return port
    return 443 if src.get("scheme", "https") == "https" else 80


def save(config: CCProxyConfig, config_dir: Path, provider: str, jq: Sequence[str] = (),
         mflow: bool = False) -> Saved:
    """Save the newest matching 2xx flow of the set as `provider`'s shape (mode 0600, one form per provider).

    Errors: an unknown provider is a ConfigError, a bad jq filter a UsageError, no matching flow
    a ShapeError naming the capture pattern and its config key."""
    profile = resolve(config, check_name(provider))
    store = ShapeStore(shapes_dir(config, config_dir))
    shape = capture(config, config_dir, profile, jq)
    form: Form = "mflow" if mflow else "json"
    other = store.path(profile.name, "json" if mflow else "mflow")
    replaced = other if other.exists() else None
    src = shape.source
    written = store.save(shape, form, str(src.get("scheme") or "https"), str(src.get("host") or ""), _port(src))
    return Saved(written, shape, replaced)


def _entry(sf: ShapeFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"provider": sf.provider, "form": sf.form, "file": str(sf.path)}
    try:
        shape = parse_file(sf.path, sf.form, sf.provider)
    except ShapeError as exc:
        return {**entry, "error": str(exc)}
    return {
        **entry,
        "flow_id": shape.source.get("flow_id"),
        "captured_at": shape.source.get("captured_at"),
        "method": shape.method,
        "host": shape.source.get("host"),
        "path": shape.path,
        "headers": len(shape.headers),
        "body_keys": list(shape.body),
    }


def list_shapes(config: CCProxyConfig, config_dir: Path) -> list[dict[str, Any]]:
    """Every shape file in `shaping.shapes_dir`, by provider then form; a broken one has `error` instead."""
    return [_entry(sf) for sf in ShapeStore(shapes_dir(config, config_dir)).files()]
