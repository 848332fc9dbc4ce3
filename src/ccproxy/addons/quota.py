"""Keep every answer's rate-limit headers as facts on its flow and warn as a window fills.

The parse is pure (`ccproxy.sessions.quota`); this addon only reads the provider's headers (the
upstream snapshot when ccproxy changed the answer, so a 429 counts too), writes `.ccproxy.extra.quota`
before the recorder stores the flow, and remembers each credential's last utilisation per window so a
threshold of `quota.warn_at` is announced once per crossing: a flow warning, a log line, and an MCP
notification to the flow's session (the agent reads it on its next request).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from mitmproxy import http

from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.pipeline.services import Services
from ccproxy.sessions.quota import QuotaSnapshot, Window, credential_of, crossed, parse_quota

log = logging.getLogger("ccproxy.quota")

#: The MCP notification bridge's task id for quota news.
TASK_ID = "ccproxy-quota"


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "an unknown time"


def warning_text(credential: str, w: Window, threshold: float | None) -> str:
    """What a user (or the agent) reads: which window, how full, when it resets, how to change the warning."""
    if threshold is None:
        return (f"quota: credential {credential!r}: the provider refused the request (window {w.name}: "
                f"{w.status or 'rejected'}); it resets at {_when(w.reset)}")
    return (f"quota: credential {credential!r}: window {w.name} is at {w.utilization:g}% (warned at {threshold:g}%); "
            f"it resets at {_when(w.reset)}. Thresholds: quota.warn_at in ccproxy.yaml")


class QuotaWatch:
    """Before the recorder: the parsed headers go into the stored flow."""

    def __init__(self, config: CCProxyConfig, services: Services) -> None:
        self.warn_at = list(config.quota.warn_at)
        self.services = services
        #: (credential, window) -> (reset, utilisation) last seen, for crossing detection.
        self.last: dict[tuple[str, str], tuple[float | None, float | None]] = {}
        #: credential -> its newest `.ccproxy.extra.quota` (the viewer's live quota line).
        self.latest: dict[str, dict[str, Any]] = {}

    def response(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if meta.internal or flow.response is None:
            return
        up = meta.upstream_response
        headers = up.headers if up is not None else list(flow.response.headers.items(multi=True))
        snap = parse_quota(headers, time.time())
        if snap is None:
            return
        credential = credential_of(meta.provider, flow.request.pretty_host)
        meta.quota = {"credential": credential, **snap.to_json()}
        self.latest[credential] = meta.quota
        for message in self._warnings(credential, snap, flow.response.status_code):
            meta.warnings.append(message)
            log.warning("flow %s: %s", flow.id[:8], message)
            self._notify(meta.session_id, credential, message)

    def _warnings(self, credential: str, snap: QuotaSnapshot, status: int) -> list[str]:
        out: list[str] = []
        for w in snap.windows.values():
            reset, before = self.last.get((credential, w.name), (None, None))
            if reset is not None and w.reset is not None and abs(reset - w.reset) > 60:
                before = None  # a new period of the window
            self.last[(credential, w.name)] = (w.reset, w.utilization)
            threshold = crossed(before, w.utilization, self.warn_at)
            if threshold is not None:
                out.append(warning_text(credential, w, threshold))
            elif status == 429 and w.status == "rejected":
                out.append(warning_text(credential, w, None))
        if status == 429 and not out:
            out.append(f"quota: credential {credential!r}: rate limited (429, status {snap.status or '-'}); "
                       f"retry after {snap.retry_after or '-'} s")
        return out

    def _notify(self, session: str | None, credential: str, message: str) -> None:
        buffer = self.services.notifications
        if buffer is not None and session:
            buffer.add_event(TASK_ID, session, {"type": "quota_warning", "credential": credential, "message": message})
