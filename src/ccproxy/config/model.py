"""The `ccproxy.yaml` schema: one pydantic model per mapping, unknown keys rejected."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ccproxy.config.pricing import ModelPrice
from ccproxy.config.providers import AuthSource, ProviderConfig
from ccproxy.config.shaping import ShapingConfig


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- listener ports -------------------------------------------------------------------------------
#: A TCP/UDP port: a real int (YAML `true` is not port 1, `"4000"` is not a port), 0 means "pick a free one".
Port = Annotated[int, Field(strict=True, ge=0, le=65535)]


def _check_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from exc
    return value


class TransformRule(_Model):
    """One `inspector.transforms` entry; the first rule that matches a flow wins."""

    match_host: str | None = None
    match_path: str = ".*"
    match_model: str | None = None
    action: Literal["redirect", "transform", "passthrough"] = "redirect"
    dest_provider: str | None = None
    dest_host: str | None = None
    dest_path: str | None = None
    dest_model: str | None = None

    _re = field_validator("match_host", "match_path", "match_model")(_check_regex)

    @model_validator(mode="after")
    def _needs_destination(self) -> TransformRule:
        if self.action != "passthrough" and not (self.dest_provider or self.dest_host):
            raise ValueError(f"action {self.action!r} needs dest_provider (or dest_host)")
        if self.action == "transform" and not self.dest_provider:
            raise ValueError("action 'transform' needs dest_provider: its `provider` names the wire format to write")
        return self


class ForwardConfig(_Model):
    """`ccproxy run --proxy`: a regular (HTTP CONNECT) proxy listener on loopback, behind a per-daemon credential."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 0
    intercept_hosts: list[str] = Field(
        default_factory=list,
        description="hosts decrypted besides the providers' (`*.example.com` matches subdomains); others are tunnelled",
    )
    allow_hosts: list[str] | None = Field(
        default=None,
        description="when set, `run --proxy` children may reach only these hosts (exact or *.domain), the "
        "providers' and intercept_hosts; others are refused (403) and listed as refused",
    )


class InspectorConfig(_Model):
    port: Port = 8083
    forward: ForwardConfig = Field(default_factory=ForwardConfig)
    transforms: list[TransformRule] = Field(default_factory=list)
    upstream_ca: str | None = None
    wireguard_port: Port = 0
    view_limit: int = Field(default=500, ge=1, description="flows kept in mitmweb's in-memory view")
    idle_timeout: int = Field(default=600, ge=1, description="seconds a connection may sit idle")
    upstream_timeout: float = Field(
        default=600, ge=0, description="seconds to wait for a provider's response headers, then 504 (0: no limit)"
    )
    stream_idle_timeout: float = Field(
        default=300, ge=0,
        description="seconds a response body may go silent: a stream is ended, a buffered body is a 504 (0: no limit)",
    )


class McpHttpConfig(_Model):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 4030
    auth: str | AuthSource | None = None


class McpConfig(_Model):
    http: McpHttpConfig = Field(default_factory=McpHttpConfig)


HookEntry = str | dict[str, Any]
DEFAULT_INBOUND: tuple[HookEntry, ...] = ("ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id")
DEFAULT_OUTBOUND: tuple[HookEntry, ...] = ("ccproxy.hooks.gemini_cli", "ccproxy.hooks.inject_mcp_notifications")


class HooksConfig(_Model):
    inbound: list[HookEntry] = Field(default_factory=lambda: list(DEFAULT_INBOUND))
    outbound: list[HookEntry] = Field(default_factory=lambda: list(DEFAULT_OUTBOUND))


class RetentionConfig(_Model):
    max_count: int = Field(default=10_000, ge=1)
    max_age_days: float = Field(default=14.0, gt=0)
    #: Bytes on disk for the store, its WAL and the writer's journal; the oldest flows go beyond it.
    max_disk_mb: float | None = Field(default=None, gt=0)


class FlowsConfig(_Model):
    default_jq_filters: list[str] = Field(default_factory=list)
    redact_secrets: bool = Field(default=False, description="replace secrets found in bodies (detect-secrets) "
                                 "before anything is stored; the provider still gets the original bytes")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    store: str = "flows.sqlite3"


class DoctorConfig(_Model):
    dns_name: str = "example.com"
    ipv4_target: str = "1.1.1.1:443"


class NamespaceConfig(_Model):
    doctor: DoctorConfig = Field(default_factory=DoctorConfig)
    #: The jail's resolv.conf; 10.0.0.53 is mitmproxy's own resolver at the far end of the tunnel.
    nameservers: list[str] = Field(default_factory=lambda: ["10.0.0.53"], min_length=1)
    #: After relaying a stop signal to the jailed command, kill the jail if it is still running.
    stop_timeout: float = Field(default=10.0, gt=0)


class OtlpConfig(_Model):
    """Where finished flows go as OpenTelemetry spans (OTLP over HTTP/protobuf); no endpoint, no export."""

    endpoint: str | None = Field(
        default=None,
        description="collector URL: http://127.0.0.1:4318 for http/protobuf (`/v1/traces` is added when no path "
        "is given), http://127.0.0.1:4317 for grpc (https:// for TLS)",
    )
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    headers: dict[str, str] = Field(default_factory=dict, description="sent with every export (e.g. an API key)")
    timeout: float = Field(default=10.0, gt=0, description="seconds one export may take, retries included")

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL; give the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318")
        return value


class TelemetryConfig(_Model):
    otlp: OtlpConfig = Field(default_factory=OtlpConfig)
    capture_content: bool = Field(default=False, description="put prompts and completions into the spans")
    service_name: str = "ccproxy"


class QuotaConfig(_Model):
    """Subscription windows and rate limits (the providers' rate-limit headers): when to warn."""

    warn_at: list[float] = Field(
        default_factory=lambda: [80.0, 90.0],
        description="per cent of a window's utilisation at which ccproxy warns (log, flow warning, MCP notification)",
    )

    @field_validator("warn_at")
    @classmethod
    def _percent(cls, value: list[float]) -> list[float]:
        if any(not 0 < v <= 100 for v in value):
            raise ValueError(f"{value}: thresholds are per cent, each above 0 and at most 100 (e.g. [80, 90])")
        return sorted(value)


class CCProxyConfig(_Model):
    """Everything under the top-level `ccproxy:` mapping."""

    host: str = "127.0.0.1"
    port: Port = 4000
    allow_remote: bool = Field(default=False, description="let a non-loopback `host` serve other machines "
                               "(they must send the daemon's remote token in x-ccproxy-token)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_file: str = "ccproxy.log"
    log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0, description="rotate ccproxy.log at this size (0: never)")
    log_backups: int = Field(default=3, ge=1, le=100, description="rotated logs kept (ccproxy.log.1 ...)")
    inspector: InspectorConfig = Field(default_factory=InspectorConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    flows: FlowsConfig = Field(default_factory=FlowsConfig)
    namespace: NamespaceConfig = Field(default_factory=NamespaceConfig)
    shaping: ShapingConfig = Field(default_factory=ShapingConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    #: model name or glob -> price; wins over the bundled price table (ccproxy.sessions.cost)
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _rules_name_providers(self) -> CCProxyConfig:
        for index, rule in enumerate(self.inspector.transforms):
            if rule.dest_provider and rule.dest_provider not in self.providers:
                raise ValueError(
                    f"inspector.transforms[{index}].dest_provider {rule.dest_provider!r} is not a key "
                    f"of providers (known: {', '.join(sorted(self.providers)) or 'none'})"
                )
        return self

    @model_validator(mode="after")
    def _remote_needs_opt_in(self) -> CCProxyConfig:
        """The reverse listener adds the owner's credentials: on a network address, only when asked for."""
        if not is_loopback_host(self.host) and not self.allow_remote:
            raise ValueError(
                f"host: {self.host!r} would serve your provider credentials to every machine that can reach "
                "it; keep 127.0.0.1, or set `allow_remote: true` (clients other than this machine must then "
                "send the daemon's remote token in an x-ccproxy-token header; `ccproxy status --show-secrets`)"
            )
        return self

    @model_validator(mode="after")
    def _distinct_ports(self) -> CCProxyConfig:
        """Two listeners on one port fail only at bind time, deep in mitmproxy: refuse it here instead."""
        seen: dict[int, str] = {}
        for key, port in listener_ports(self):
            if port and port in seen:
                raise ValueError(
                    f"{key}: {port} is also ccproxy.{seen[port]}; give every listener its own port (0 picks a free one)"
                )
            seen.setdefault(port, key)
        return self


def is_loopback_host(host: str) -> bool:
    """`localhost` or an address in 127.0.0.0/8 or ::1 (a name other than localhost counts as remote)."""
    import ipaddress

    bare = host.strip("[]")
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def listener_ports(config: CCProxyConfig) -> list[tuple[str, int]]:
    """Every configured listener port by its key path (the MCP one only when the server is on)."""
    ports = [
        ("port", config.port),
        ("inspector.port", config.inspector.port),
        ("inspector.wireguard_port", config.inspector.wireguard_port),
    ]
    if config.mcp.http.enabled:
        ports.append(("mcp.http.port", config.mcp.http.port))
    if config.inspector.forward.enabled:
        ports.append(("inspector.forward.port", config.inspector.forward.port))
    return ports
