"""Last word on the request: strip `x-ccproxy-*` headers and never let a sentinel key leave."""

from __future__ import annotations

import json
import logging

from mitmproxy import http

from ccproxy.auth.sentinel import SENTINEL_PREFIX
from ccproxy.flows.meta import get_meta

log = logging.getLogger("ccproxy.sanitizer")

INTERNAL_PREFIX = "x-ccproxy-"
_INTERNAL = INTERNAL_PREFIX.encode()
_SENTINEL = SENTINEL_PREFIX.encode()


def leaks_sentinel(request: http.Request) -> str | None:
    """Where a sentinel key would leave the machine, if anywhere."""
    # The raw header fields: on every request, mitmproxy's decoded views cost more than the check.
    for name, value in request.headers.fields:
        if _SENTINEL in value:
            return f"header {name.decode('latin-1')}"
    if SENTINEL_PREFIX in request.path:
        return "URL"
    return None


class EgressSanitizer:
    """Runs after every request-stage addon and again on a replay."""

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        headers = flow.request.headers
        if any(name.lower().startswith(_INTERNAL) for name, _ in headers.fields):
            headers.fields = tuple(f for f in headers.fields if not f[0].lower().startswith(_INTERNAL))
        where = leaks_sentinel(flow.request)
        if where:
            meta = get_meta(flow)
            meta.error = (
                f"refused to forward: the sentinel key is still in the {where}; "
                f"ccproxy could not swap in a credential (provider {meta.provider or 'unknown'}). "
                "Check the sentinel name against `providers` in ccproxy.yaml."
            )
            log.warning("flow %s: %s", flow.id[:8], meta.error)
            body = {"type": "error", "error": {"type": "ccproxy_sentinel_error", "message": meta.error}}
            flow.response = http.Response.make(502, json.dumps(body), {"content-type": "application/json"})
