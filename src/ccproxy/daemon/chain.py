"""The addon chain, in order: the one place that says what runs on every flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccproxy.addons.auth import AuthRefresh
from ccproxy.addons.capacity import CapacityFallback
from ccproxy.addons.contentview import ContentViews
from ccproxy.addons.fingerprint import Fingerprint
from ccproxy.addons.forward import ForwardProxy
from ccproxy.addons.health import Health
from ccproxy.addons.hosts import HostLog
from ccproxy.addons.inspector import Inspector
from ccproxy.addons.live import LiveFlows
from ccproxy.addons.quota import QuotaWatch
from ccproxy.addons.recorded import RecordedUpstream
from ccproxy.addons.recorder import Recorder
from ccproxy.addons.remote import RemoteClients
from ccproxy.addons.replay_link import ReplayLink
from ccproxy.addons.router import Router
from ccproxy.addons.sanitizer import EgressSanitizer
from ccproxy.addons.stage import HookStage
from ccproxy.addons.stream import StreamTap
from ccproxy.addons.timeouts import UpstreamTimeouts
from ccproxy.addons.view import FlowView
from ccproxy.addons.websocket import WebSocketLog
from ccproxy.auth.resolver import CredentialResolver
from ccproxy.config.model import CCProxyConfig
from ccproxy.forward.credential import ProxyCredential
from ccproxy.mcp.notifications import NotificationBuffer
from ccproxy.pipeline.executor import Stage
from ccproxy.pipeline.loader import load_stage
from ccproxy.pipeline.services import Services
from ccproxy.shapes.replay import ShapeRuntime


def build_stages(config: CCProxyConfig) -> tuple[Stage, Stage]:
    """Load and order both hook DAGs; a bad entry or a cycle raises ConfigError before anything starts."""
    inbound = Stage("inbound", load_stage(config.hooks.inbound, "inbound"))
    outbound = Stage("outbound", load_stage(config.hooks.outbound, "outbound"))
    return inbound, outbound


def build_services(
    config: CCProxyConfig, config_dir: Path, notifications: NotificationBuffer | None = None
) -> Services:
    """The daemon's shared objects; shaping profiles load (and fail) now, at start."""
    return Services(
        resolver=CredentialResolver(config, config_dir),
        shapes=ShapeRuntime(config, config_dir),
        notifications=notifications,
    )


def build_chain(
    config: CCProxyConfig,
    config_dir: Path,
    services: Services,
    listeners: dict[str, str],
    forward_credential: ProxyCredential | None = None,
    remote_token: str | None = None,
) -> list[Any]:
    """mitmproxy calls each event (request, responseheaders, response, error) on these in this order."""
    inbound, outbound = build_stages(config)
    recorder = Recorder(config, config_dir)
    chain: list[Any] = [
        # Response side only, so it comes first there: a 401 is replayed before any addon below sees it.
        AuthRefresh(config, services),  # 401 -> re-resolve credential -> replay once
        CapacityFallback(config, services),  # 429/503/529 -> retry, then fallback models (capacity_fallback hook)
        # Forward listener only: 407 without the proxy credential; non-LLM CONNECT targets tunnelled.
        ForwardProxy(config, forward_credential),
        HostLog(config),  # every host a captured client reached (GET /ccproxy/api/hosts); allow_hosts refusals
        Inspector(),  # source + client-request snapshot; on response, the upstream snapshot
        ReplayLink(),  # `flows replay`'s x-ccproxy-replay-of header -> .ccproxy.replay_of
        RemoteClients(remote_token),  # allow_remote: a non-loopback client needs x-ccproxy-token (401)
        Fingerprint(),  # the client's wire fingerprint (jailed flows)
        Health(listeners, recorder.store_stats),  # GET /health on the reverse listener (+ store counters)
        HookStage(inbound, config, services),  # inject_auth, extract_session_id, ...
        RecordedUpstream(config, config_dir, services),  # provider: recorded -> answered from recorded flows
        Router(config, services),  # sentinel / path / rule routing; format translation (+ stream filters)
        HookStage(outbound, config, services),  # shape, verbose_mode, inject_mcp_notifications, ...
        LiveFlows(),  # the LLM requests in flight, for the viewer's live streams (/ccproxy/api/live)
        StreamTap(),  # SSE passes through incrementally, both sides recorded
        EgressSanitizer(),  # x-ccproxy-* stripped, a sentinel key never leaves
        UpstreamTimeouts(  # a silent provider: JSON 504, or a stalled stream ended
            config.inspector.upstream_timeout, config.inspector.stream_idle_timeout, config.inspector.idle_timeout
        ),
        WebSocketLog(),  # a socket's open and close in the daemon log (its messages: the recorder)
        QuotaWatch(config, services),  # rate-limit headers -> .ccproxy.extra.quota; warnings at quota.warn_at
        recorder,  # the finished flow goes to the flow store (a socket's: again at its end)
        FlowView(config, config_dir),  # mitmweb's view: restored at start, only the newest flows, cleared on request
        ContentViews(),  # mitmweb views: "Client Request", "Provider Response"
    ]
    # OTLP spans (telemetry.otlp) are built and exported by the recorder's writer process.
    return chain
