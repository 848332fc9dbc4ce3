"""Find the config dir, read `ccproxy.yaml` into the model, and turn mistakes into actionable errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import BUILTIN_PROVIDERS, default_providers
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


#: A whole-config check names its key first: "inspector.port: ..." (see CCProxyConfig's validators).
_KEYED_MESSAGE = re.compile(r"^(?P<key>[a-z_]+(?:\.[a-z_]+)*): ")


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x in _UNION_TAGS))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check the spelling against `ccproxy init` 's template"
        if loc and loc[-1] in ("port", "wireguard_port") and err["type"] in _PORT_ERRORS:
            msg = f"{err['input']!r} is not a port; give a whole number from 0 to 65535 (0 picks a free one)"
        keyed = _KEYED_MESSAGE.match(msg) if not loc else None
        if keyed:
            loc, msg = tuple(keyed["key"].split(".")), msg[keyed.end() :]
        lines.append(f"{_location(loc)}: {msg}")
    return f"{path}: invalid config:\n  " + "\n  ".join(lines)


_PORT_ERRORS = {"int_type", "less_than_equal", "greater_than_equal"}
_UNION_TAGS = {"command", "file", "env", "oauth", "str"}


# --- port overrides (`start --port N`, CCPROXY_PORT=N) ---------------------------------------------
#: key path -> (environment variable, `start` flag); the override is used, never written to the file.
PORT_OVERRIDES: dict[str, tuple[str, str]] = {
    "port": ("CCPROXY_PORT", "--port"),
    "inspector.port": ("CCPROXY_INSPECTOR_PORT", "--inspector-port"),
    "mcp.http.port": ("CCPROXY_MCP_PORT", "--mcp-port"),
}

#: key path -> (value as given, where it came from)
Overrides = dict[str, tuple[str, str]]


def port_overrides(environ: Mapping[str, str], flags: Mapping[str, str | int | None] | None = None) -> Overrides:
    """The ports set by environment and command line; a flag beats the environment, both beat the file."""
    found: Overrides = {}
    for key, (var, flag) in PORT_OVERRIDES.items():
        value = (flags or {}).get(key)
        if value is not None:
            found[key] = (str(value), flag)
        elif environ.get(var, "").strip():
            found[key] = (environ[var], var)
    return found


def _apply_overrides(body: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    body = dict(body)
    for key, (raw, origin) in overrides.items():
        text = raw.strip()
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise ConfigError(f"{origin}: {raw!r} is not a port; give a whole number from 0 to 65535")
        *parents, leaf = key.split(".")
        node = body
        for part in parents:
            child = node.get(part)
            node[part] = child = dict(child) if isinstance(child, dict) else {}
            node = child
        node[leaf] = int(text)
    return body


def parse_config(data: Any, source: Path, overrides: Overrides | None = None) -> CCProxyConfig:
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
    if isinstance(body.get("providers"), dict):
        body = {**body, "providers": merge_builtin_providers(body["providers"])}
    if overrides:
        body = _apply_overrides(body, overrides)
    try:
        config = CCProxyConfig.model_validate(body)
    except ValidationError as exc:
        notes = "".join(f"\n  (ccproxy.{key} is set by {origin})" for key, (_, origin) in (overrides or {}).items())
        raise ConfigError(_format_validation(source, exc) + notes) from None
    if "providers" not in body:
        config.providers = default_providers()
    return config


# --- built-in providers --------------------------------------------------------------------------
#: Keys that name the same field (alias and field name); the user's spelling replaces the built-in's.
_SAME_FIELD = {"env": "var", "var": "env", "path": "file_path", "file_path": "path"}


def _merge_auth(builtin: dict[str, Any], user: Any) -> Any:
    """The user's auth over the built-in's, unless it is another source type (then it stands alone)."""
    if not isinstance(user, dict) or user.get("type", builtin["type"]) != builtin["type"]:
        return user
    kept = {k: v for k, v in builtin.items() if k not in user and _SAME_FIELD.get(k) not in user}
    return {**kept, **user}


def merge_builtin_providers(providers: dict[str, Any]) -> dict[str, Any]:
    """An entry named like a built-in provider (`anthropic`, `openai`, `gemini`) only says what differs.

    Only the providers the file lists exist: a built-in it does not name is not added, so no request
    is ever routed to a public API the file does not mention.
    """
    merged = dict(providers)
    for name, user in providers.items():
        builtin = BUILTIN_PROVIDERS.get(name)
        if builtin is None or not isinstance(user, dict):
            continue
        entry = {**builtin, **user}
        if "auth" in user:
            entry["auth"] = _merge_auth(builtin["auth"], user["auth"])
        merged[name] = entry
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's own loader lets a repeated key silently win; in a config that hides a mistake."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first on line {seen[key]}); each key may appear once in a mapping",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_config(directory: Path, overrides: Overrides | None = None) -> CCProxyConfig:
    """Load `ccproxy.yaml` from the dir, or the embedded defaults when there is none; then the overrides."""
    path = directory / CONFIG_FILE
    if not path.exists():
        return parse_config({}, path, overrides)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path}:{where}: not valid YAML ({problem}); fix the file or re-run `ccproxy init --force`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_config(data, path, overrides)
