"""A provider's effective shaping profile: its `shaping.providers` entry over the wire format's defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ccproxy.config.shaping import (
    DEFAULT_CONTENT_FIELDS,
    DEFAULT_PATH_PATTERN,
    DEFAULT_SHAPE_HOOKS,
    ShapingProfile,
)
from ccproxy.errors import ConfigError

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig

StrategyKind = Literal["replace", "prepend_shape", "append_shape", "drop"]


@dataclass(frozen=True)
class Strategy:
    """How one content field is filled: from the live request, the shape's value around it, or not at all."""

    kind: StrategyKind = "replace"
    limit: int | None = None  # prepend/append: keep only the shape's first N items

    @classmethod
    def parse(cls, text: str) -> Strategy:
        kind, _, n = text.strip().partition(":")
        if kind not in ("replace", "prepend_shape", "append_shape", "drop") or (n and not n.isdigit()):
            raise ConfigError(
                f"unknown merge strategy {text!r}; use replace, drop, prepend_shape[:N] or append_shape[:N]"
            )
        if n and kind in ("replace", "drop"):
            raise ConfigError(f"merge strategy {kind!r} takes no `:N` ({text!r})")
        return cls(kind, int(n) if n else None)  # type: ignore[arg-type]

    @property
    def keeps_shape(self) -> bool:
        """The shape's own value (its first `limit` items) stays in the stored envelope."""
        return self.kind in ("prepend_shape", "append_shape")

    def __str__(self) -> str:
        return self.kind + (f":{self.limit}" if self.limit is not None else "")


@dataclass(frozen=True)
class Profile:
    name: str
    format: str
    path_pattern: str
    content_fields: tuple[str, ...]
    strategies: dict[str, Strategy]
    strip_headers: frozenset[str]
    preserve_headers: tuple[str, ...]
    shape_hooks: list[str | dict[str, Any]] = field(default_factory=list)

    def strategy(self, name: str) -> Strategy:
        return self.strategies.get(name, Strategy())

    def matches(self, path: str) -> bool:
        """The request path (query left out) is one this profile's shape belongs to."""
        return re.search(self.path_pattern, path.split("?", 1)[0]) is not None


def _format_of(config: CCProxyConfig, name: str, entry: ShapingProfile | None) -> str:
    if entry is not None and entry.format:
        return entry.format
    provider = config.providers.get(name)
    if provider is not None:
        return str(provider.provider)
    known = sorted(set(config.providers) | set(config.shaping.providers))
    raise ConfigError(
        f"no provider named {name!r} (known: {', '.join(known) or 'none'}); add it to `providers`, or give "
        f"shaping.providers.{name}.format"
    )


def resolve(config: CCProxyConfig, name: str) -> Profile:
    """The profile `shapes` commands and the `shape` hook use for provider `name`."""
    entry = config.shaping.providers.get(name)
    fmt = _format_of(config, name, entry)
    spec = entry or ShapingProfile()
    fields = tuple(spec.content_fields if spec.content_fields is not None else DEFAULT_CONTENT_FIELDS[fmt])
    unknown = sorted(set(spec.merge_strategies) - set(fields))
    if unknown:
        raise ConfigError(
            f"shaping.providers.{name}.merge_strategies names {', '.join(unknown)}, which is not a content "
            f"field of {fmt} (content fields: {', '.join(fields)}); add it to content_fields"
        )
    strategies = {k: Strategy.parse(v) for k, v in spec.merge_strategies.items()}
    preserve = list(spec.preserve_headers)
    provider = config.providers.get(name)
    if provider is not None and provider.auth_header not in preserve:
        preserve.append(provider.auth_header)
    hooks = spec.shape_hooks if spec.shape_hooks is not None else list(DEFAULT_SHAPE_HOOKS)
    return Profile(
        name=name,
        format=fmt,
        path_pattern=spec.capture.path_pattern or DEFAULT_PATH_PATTERN[fmt],
        content_fields=fields,
        strategies=strategies,
        strip_headers=frozenset(spec.strip_headers),
        preserve_headers=tuple(preserve),
        shape_hooks=list(hooks),
    )


def shapes_dir(config: CCProxyConfig, config_dir: Path) -> Path:
    path = Path(config.shaping.shapes_dir).expanduser()
    return path if path.is_absolute() else config_dir / path
