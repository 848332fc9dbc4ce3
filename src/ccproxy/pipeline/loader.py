"""Turn `hooks.inbound`/`hooks.outbound` entries into HookSpecs with validated params."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from pydantic import ValidationError

from ccproxy.errors import ConfigError
from ccproxy.pipeline.dag import order_hooks
from ccproxy.pipeline.hook import HookSpec, spec_of

BUILTIN_PACKAGE = "ccproxy.hooks"


def _import_spec(path: str, where: str) -> HookSpec:
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError:
        module = None
    if module is not None:
        specs = [s for _, obj in inspect.getmembers(module) if (s := spec_of(obj))]
        specs = [s for s in specs if getattr(s.fn, "__module__", None) == module.__name__]
        if len(specs) == 1:
            return specs[0]
        raise ConfigError(
            f"{where}: module {path!r} defines {len(specs)} hooks; name one as {path}.<function>"
        )
    mod_path, _, attr = path.rpartition(".")
    try:
        obj = getattr(importlib.import_module(mod_path), attr, None) if mod_path else None
    except ModuleNotFoundError:
        obj = None
    spec = spec_of(obj)
    if spec is None:
        raise ConfigError(
            f"{where}: cannot import hook {path!r}; use a dotted module path such as "
            f"{BUILTIN_PACKAGE}.inject_auth, or module.function decorated with @hook"
        )
    return spec


def load_hook(entry: str | dict[str, Any], where: str) -> HookSpec:
    """Load one entry: a dotted path, or `{hook: path, params: {...}}` validated by the hook's model."""
    params: dict[str, Any] = {}
    if isinstance(entry, dict):
        unknown = set(entry) - {"hook", "params"}
        if "hook" not in entry or unknown:
            raise ConfigError(f"{where}: a hook entry is a dotted path or {{hook: path, params: {{...}}}}")
        path, params = entry["hook"], entry.get("params") or {}
    else:
        path = entry
    if not isinstance(path, str) or not isinstance(params, dict):
        raise ConfigError(f"{where}: `hook` must be a dotted path and `params` a mapping")
    spec = _import_spec(path, where)
    if spec.params_model is None:
        if params:
            raise ConfigError(f"{where}: hook {spec.name!r} takes no params")
        return spec
    try:
        return spec.with_params(spec.params_model.model_validate(params))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}.params: {problems}") from None


def load_stage(entries: list[str | dict[str, Any]], stage: str) -> list[HookSpec]:
    """Load and order one stage's hooks."""
    specs = [load_hook(e, f"hooks.{stage}[{i}]") for i, e in enumerate(entries)]
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"hooks.{stage}: hook(s) {', '.join(sorted(dupes))} listed twice")
    return order_hooks(specs, stage)
