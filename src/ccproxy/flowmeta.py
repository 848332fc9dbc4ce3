"""The `.ccproxy` object of a flow: defined once here, stored on `flow.metadata[META_KEY]`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal

META_KEY = "ccproxy"

Source = Literal["reverse", "wireguard", "forward", "unknown"]


@dataclass
class ClientRequest:
    """The request exactly as the client sent it, before any addon touched it."""

    method: str
    url: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    timestamp_start: float = 0.0

    def to_json(self, with_body: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "http_version": self.http_version,
            "headers": [list(h) for h in self.headers],
            "content_length": len(self.body),
        }
        if with_body:
            doc["body"] = self.body.decode("utf-8", "replace")
        return doc


@dataclass
class UpstreamResponse:
    """The provider's response as it came back, kept when ccproxy changed what the client got."""

    status_code: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class SSEEvent:
    """One server-sent event with its arrival time (seconds since the epoch)."""

    t: float
    data: str
    event: str | None = None


@dataclass
class HookRun:
    name: str
    stage: str
    ok: bool
    error: str | None = None


@dataclass
class TransformInfo:
    """What the router decided for a flow and why."""

    mode: Literal["passthrough", "redirect", "transform", "route"]
    reason: str  # "sentinel", "rule[N]", "path", "original"
    provider: str | None = None
    rule: int | None = None
    from_format: str | None = None  # the client's wire format
    to_format: str | None = None  # the destination's wire format
    model: str | None = None
    dest_url: str | None = None
    stream: bool = False  # the upstream request asked for a streamed answer
    #: What the client's request says about the answer's shape (ccproxy.wire ClientOptions fields).
    client_options: dict[str, Any] = field(default_factory=dict)

    @property
    def translates(self) -> bool:
        """Bodies change format on the way out and back."""
        return self.mode == "transform" and self.from_format is not None and self.from_format != self.to_format


@dataclass
class FlowMeta:
    """Everything ccproxy knows about a flow beyond mitmproxy's own request/response."""

    source: Source = "unknown"
    client_request: ClientRequest | None = None
    provider: str | None = None
    auth_injected: bool = False
    auth_refreshed: bool = False
    auth_replayed: bool = False
    session_id: str | None = None
    conversation_id: str | None = None
    transform: TransformInfo | None = None
    usage: dict[str, int] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    hooks: list[HookRun] = field(default_factory=list)
    upstream_response: UpstreamResponse | None = None
    upstream_events: list[SSEEvent] = field(default_factory=list)
    client_events: list[SSEEvent] = field(default_factory=list)
    fingerprint: dict[str, Any] | None = None
    shape: dict[str, Any] | None = None
    timestamp_first_byte: float | None = None
    #: The flow this one resends (`ccproxy flows replay`), from the `x-ccproxy-replay-of` request header.
    replay_of: str | None = None
    # Facts addons record on some flows; in the flow JSON under `.ccproxy.extra` (see IN_EXTRA).
    #: ccproxy's own endpoint (`GET /health`): no hooks, no routing, not recorded.
    internal: bool = False
    #: A forward-proxy request to a host that is no LLM's: dropped from mitmweb's view once done.
    hidden: bool = False
    #: Rebuilt from the flow store by a restarted daemon, not live traffic.
    restored: bool = False
    #: The response body went to the client as it arrived (a large body nothing rewrites).
    body_streamed: bool = False
    #: The router's 426 answer to a WebSocket handshake it would have to translate.
    websocket_refusal: dict[str, Any] | None = None
    #: The 401 recovery: `status`, `renewed`, `replay_status`, `error` (ccproxy.addons.auth).
    auth_recovery: dict[str, Any] | None = None
    #: The parameter ccproxy added that the upstream refused, and without which it sent the flow again.
    param_retry: str | None = None
    #: Which upstream limit ran out, while the flow's timeout is being reported (ccproxy.addons.timeouts).
    timed_out: str | None = None
    #: What inject_mcp_notifications put into the request: `tasks`, `events`, `as`.
    mcp_notifications: dict[str, Any] | None = None
    #: Capacity fallback: `policy` (the capacity_fallback hook), `attempts`, `answered_by` (ccproxy.addons.capacity).
    capacity: dict[str, Any] | None = None
    #: The rate-limit headers of the answer, parsed (`ccproxy.sessions.quota`): windows, status, credential.
    quota: dict[str, Any] | None = None
    #: What the loop guard decided for this request (`ccproxy.hooks.loop_guard`): `action`, `findings`.
    loop_guard: dict[str, Any] | None = None
    #: A hook refused the request: `{kind, message}` (a `wire.neutral` error kind); the hook stage then
    #: answers it in the client's wire format (`mitm/answers.py`), and the request never leaves.
    refusal: dict[str, Any] | None = None
    #: `flows.redact_secrets`: per stored part, how many secrets were replaced and their kinds (flows.secrets).
    secrets_redacted: list[dict[str, Any]] | None = None
    #: Free keys for user hooks; ccproxy's own facts are the typed fields above.
    extra: dict[str, Any] = field(default_factory=dict)
    #: Raw bytes of a streamed upstream response, as they arrived (before any stream filter).
    upstream_raw: bytearray = field(default_factory=bytearray)
    #: Filters a streamed response passes through, in order (the router's translators); not serialized.
    stream_filters: list[Callable[[bytes], bytes]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe form (bodies and event lists left out; they are stored and shown separately).

        Field by field rather than `dataclasses.asdict`, which deep-copied every body and SSE event
        only for them to be dropped (the costliest step of recording a streamed flow)."""
        doc: dict[str, Any] = {}
        for f in fields(self):
            name = f.name
            if name in _NOT_IN_JSON or name in IN_EXTRA:
                continue
            if name == "extra":
                doc[name] = self.json_extra()
                continue
            if name == "client_request":
                doc[name] = self.client_request.to_json() if self.client_request else None
            elif name == "upstream_response":
                up = self.upstream_response
                doc[name] = (
                    {
                        "status_code": up.status_code,
                        "reason": up.reason,
                        "headers": [list(h) for h in up.headers],
                        "content_length": len(up.body),
                    }
                    if up
                    else None
                )
            else:
                doc[name] = _plain(getattr(self, name))
        return doc


    def json_extra(self) -> dict[str, Any]:
        """`.ccproxy.extra`: the free keys, and each typed fact under its key when it is set."""
        doc: dict[str, Any] = _plain(self.extra)
        for name, key in IN_EXTRA.items():
            value = getattr(self, name)
            if value is not None and value is not False:
                doc[key] = _plain(value)
        return doc

    def load_extra(self, extra: dict[str, Any]) -> None:
        """`.ccproxy.extra` read back (a stored flow): typed facts to their fields, the rest to `extra`."""
        fields_by_key = {key: name for name, key in IN_EXTRA.items()}
        for key, value in extra.items():
            if key in fields_by_key:
                setattr(self, fields_by_key[key], value)
            else:
                self.extra[key] = value


#: FlowMeta field -> its key in `.ccproxy.extra`. These facts were free `extra` keys before they
#: became fields; docs, tests and users' jq filters read them there, so the JSON keeps them there.
IN_EXTRA: dict[str, str] = {
    "internal": "internal",
    "hidden": "hidden",
    "restored": "restored",
    "body_streamed": "body_streamed",
    "websocket_refusal": "websocket",
    "auth_recovery": "auth",
    "timed_out": "upstream_timeout",
    "param_retry": "param_retry",
    "mcp_notifications": "mcp_notifications",
    "capacity": "capacity",
    "quota": "quota",
    "loop_guard": "loop_guard",
    "refusal": "refusal",
    "secrets_redacted": "secrets_redacted",
}

_NOT_IN_JSON = frozenset(
    {"upstream_events", "client_events", "timestamp_first_byte", "upstream_raw", "stream_filters"}
)


def _plain(value: Any) -> Any:
    """What `dataclasses.asdict` makes of a field value: dataclasses as dicts, containers copied."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def get_meta(flow: Any) -> FlowMeta:
    """The flow's FlowMeta, created on first use so every addon can rely on it."""
    meta = flow.metadata.get(META_KEY)
    if not isinstance(meta, FlowMeta):
        meta = FlowMeta()
        flow.metadata[META_KEY] = meta
    return meta
