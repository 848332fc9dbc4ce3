"""Find the config dir, read `ccproxy.yaml` into the model, and turn mistakes into actionable errors."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ccproxy.config.model import CCProxyConfig, default_providers
from ccproxy.errors import ConfigError

CONFIG_FILE = "ccproxy.yaml"


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config DIR` beats `CCPROXY_CONFIG_DIR`, which beats `~/.config/ccproxy`."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("CCPROXY_CONFIG_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".config" / "ccproxy").resolve()


def template_text() -> str:
    return resources.files("ccproxy.config").joinpath("template.yaml").read_text(encoding="utf-8")


def write_template(directory: Path, force: bool = False) -> Path:
    """Write the commented template; refuse to overwrite without `force`."""
    target = directory / CONFIG_FILE
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.write_text(template_text(), encoding="utf-8")
    target.chmod(0o600)
    return target


def _location(loc: tuple[int | str, ...]) -> str:
    parts = ["ccproxy"]
    for item in loc:
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(p for p in parts if p)


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x in _UNION_TAGS))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check the spelling against `ccproxy init` 's template"
        lines.append(f"{_location(loc)}: {msg}")
    return f"{path}: invalid config:\n  " + "\n  ".join(lines)


_UNION_TAGS = {"command", "file", "env", "oauth", "str"}


def parse_config(data: Any, source: Path) -> CCProxyConfig:
    """Validate a parsed YAML document (the whole file, with its `ccproxy:` mapping)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping with a `ccproxy:` key")
    unknown = set(data) - {"ccproxy"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "put every setting under `ccproxy:`"
        )
    body = data.get("ccproxy") or {}
    if not isinstance(body, dict):
        raise ConfigError(f"{source}: `ccproxy:` must be a mapping")
    try:
        config = CCProxyConfig.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None
    if "providers" not in body:
        config.providers = default_providers()
    return config


def load_config(directory: Path) -> CCProxyConfig:
    """Load `ccproxy.yaml` from the dir, or the embedded defaults when there is none."""
    path = directory / CONFIG_FILE
    if not path.exists():
        return parse_config({}, path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path}:{where}: not valid YAML ({problem}); fix the file or re-run `ccproxy init --force`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_config(data, path)
