"""Replay: put a provider's shape around a live request's content.

A flow is shaped when it entered through the reverse proxy or had a credential injected (a jailed
client talking to its own provider with its own key is already authentic and is left alone), the
router sent it to a provider, its path matches that provider's capture pattern, and a shape is
saved. Every decision, applied or not, is recorded in `.ccproxy.shape`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccproxy.errors import CCProxyError, ConfigError, DaemonError, ShapeError
from ccproxy.flowmeta import FlowMeta, get_meta
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.dag import order_hooks
from ccproxy.pipeline.executor import Stage
from ccproxy.pipeline.hook import HookSpec
from ccproxy.pipeline.loader import load_hook
from ccproxy.shapes.apply import stamp
from ccproxy.shapes.envelope import parse_body
from ccproxy.shapes.merge import FROM_SHAPE, inject
from ccproxy.shapes.profile import Profile, resolve, shapes_dir
from ccproxy.shapes.store import ShapeStore
from ccproxy.shapes.work import ShapeWork

if TYPE_CHECKING:
    from mitmproxy import http

    from ccproxy.config.model import CCProxyConfig
    from ccproxy.pipeline.services import Services

STAGE = "shape"


def load_shape_hooks(profile: Profile) -> list[HookSpec]:
    """A profile's shape hooks, loaded like `hooks.outbound` entries and ordered by their reads/writes."""
    where = f"shaping.providers.{profile.name}.shape_hooks"
    specs = [load_hook(entry, f"{where}[{i}]") for i, entry in enumerate(profile.shape_hooks)]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: hook(s) {', '.join(dupes)} listed twice")
    return order_hooks(specs, STAGE)


class ShapeRuntime:
    """The daemon's shaping state: the store and, per provider, the profile and its shape-hook stage."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.store = ShapeStore(shapes_dir(config, config_dir))
        self._profiles: dict[str, tuple[Profile, Stage]] = {}
        for name in config.shaping.providers:  # a bad profile or hook entry stops the daemon at start
            self.profile(name)

    def profile(self, name: str) -> tuple[Profile, Stage]:
        if name not in self._profiles:
            profile = resolve(self.config, name)
            self._profiles[name] = (profile, Stage(STAGE, load_shape_hooks(profile)))
        return self._profiles[name]


def skip_reason(meta: FlowMeta) -> str | None:
    """Why a flow is not eligible for shaping at all, or None."""
    if meta.source != "reverse" and not meta.auth_injected:
        return f"came through {meta.source} with the client's own credential; left as the client sent it"
    if meta.transform is None:
        return "no routing decision (transform metadata) for this flow"
    if not (meta.transform.provider or meta.provider):
        return "not routed to a configured provider"
    return None


def _skip(reason: str, provider: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"applied": False, "reason": reason}
    if provider:
        doc["provider"] = provider
    return doc


def _working_flow(flow: http.HTTPFlow, headers: list[tuple[str, str]]) -> http.HTTPFlow:
    """A flow the shape hooks edit: the shape's headers on a copy of the request, the live flow's metadata."""
    from mitmproxy import http

    working = http.HTTPFlow(flow.client_conn, flow.server_conn)
    working.id = flow.id
    working.request = flow.request.copy()
    working.request.headers = http.Headers([(k.encode(), v.encode()) for k, v in headers])
    working.metadata = flow.metadata  # hook runs land on the live flow's record
    return working


def runtime_of(services: Services) -> ShapeRuntime:
    """The daemon's shape runtime (`Services.shapes`, which `pipeline/` cannot name: shapes/ imports it)."""
    runtime = services.shapes
    if not isinstance(runtime, ShapeRuntime):
        raise DaemonError(f"Services.shapes is a {type(runtime).__name__}, not a ShapeRuntime; "
                          "build the services with ccproxy.daemon.chain.build_services")
    return runtime


async def shape_flow(flow: http.HTTPFlow, services: Services, config: CCProxyConfig) -> dict[str, Any]:
    """Shape `flow` in place when it qualifies; returns what `.ccproxy.shape` records."""
    meta, runtime = get_meta(flow), runtime_of(services)
    if meta.shape and meta.shape.get("applied"):
        return meta.shape  # a replayed flow (mitmweb "replay") is shaped once, not twice
    reason = skip_reason(meta)
    if reason:
        return _skip(reason)
    name = str((meta.transform.provider if meta.transform else None) or meta.provider)
    try:
        profile, stage = runtime.profile(name)
    except CCProxyError as exc:
        return _skip(str(exc), name)
    if not profile.matches(flow.request.path):
        return _skip(f"path does not match {profile.path_pattern!r} (capture.path_pattern)", name)
    try:
        loaded = runtime.store.load(name)
    except CCProxyError as exc:
        return _skip(f"{exc}; run `ccproxy shapes audit`", name)
    if loaded is None:
        return _skip(f"no shape saved for {name!r}; run `ccproxy shapes save {name}`", name)
    sf, shape = loaded
    try:
        incoming = parse_body(flow.request.get_content(strict=False) or b"")
    except ShapeError as exc:
        return _skip(f"{exc}; only JSON API requests are shaped", name)
    body, sources = inject(shape.body, incoming, profile, shape.key_order)
    headers = [(k, v) for k, v in shape.headers if k.lower() not in profile.strip_headers]
    work = ShapeWork(shape=shape, profile=profile, body=body, incoming=flow)
    working = _working_flow(flow, headers)
    ctx = HookContext(flow=working, config=config, stage=STAGE, services=services, work=work)
    await stage.run(ctx)
    final = [(k, v) for k, v in working.request.headers.items(multi=True)]
    done = stamp(flow.request, final, shape.body_bytes(work.body), shape.query, profile.preserve_headers,
                 shape.header_order)
    return {
        "applied": True,
        "provider": name,
        "file": str(sf.path),
        "form": sf.form,
        "captured_from": shape.source.get("flow_id"),
        "fields": {**{k: sources.get(k, FROM_SHAPE) for k in work.body}, **sources},
        "strategies": {k: str(v) for k, v in profile.strategies.items()},
        "headers": {
            "from_shape": done.from_shape,
            "preserved": done.preserved,
            "stripped": sorted({k.lower() for k, _ in shape.headers} & profile.strip_headers),
        },
        "query_added": done.query_added,
        "hooks": [h.name for h in stage.hooks],
    }
