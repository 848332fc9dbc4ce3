"""Last word on the request: strip `x-ccproxy-*` headers and never let a sentinel key leave.

A sentinel key is refused (502) wherever a credential can ride: any header, the URL, and a body
field whose whole value is a sentinel key (`"api_key": "sk-ant-oat-ccproxy-x"`, `"Bearer sk-..."`,
`key=sk-...` in a form). A sentinel key quoted inside text (a prompt, a file a tool read, JSON
inside a string) is data, not a credential, and passes: refusing it would break every
conversation that ever quoted ccproxy's own docs or config.
"""

from __future__ import annotations

import logging
import re

from mitmproxy import http

from ccproxy.auth.sentinel import SENTINEL_PREFIX
from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors

log = logging.getLogger("ccproxy.sanitizer")

INTERNAL_PREFIX = "x-ccproxy-"
_INTERNAL = INTERNAL_PREFIX.encode()
_SENTINEL = SENTINEL_PREFIX.encode()

#: A sentinel key as the whole value of a JSON string (an escaped `\"` is text inside a string, not a
#: string's start) or of a form field, with an optional auth scheme word in front.
_BODY_SENTINEL = re.compile(
    rb'(?:(?<!\\)"|(?:^|&)[^&="\s]*=)'
    rb"(?:(?:bearer|basic|token)(?:\s|\+|%20)+)?"
    + re.escape(_SENTINEL)
    + rb'[A-Za-z0-9._~-]*(?:"|&|$)',
    re.I,
)


def sentinel_in_body(request: http.Request) -> bool:
    """A body field carries a sentinel key as its value (see the module docstring)."""
    raw = request.raw_content
    if not raw:
        return False
    body = raw
    if request.headers.get("content-encoding"):
        try:
            body = request.get_content(strict=True) or b""
        except ValueError:  # undecodable: nothing we can read is going out as a credential either
            return False
    return _SENTINEL in body and _BODY_SENTINEL.search(body) is not None


def leaks_sentinel(request: http.Request) -> str | None:
    """Where a sentinel key would leave the machine, if anywhere."""
    # The raw header fields: on every request, mitmproxy's decoded views cost more than the check.
    for name, value in request.headers.fields:
        if _SENTINEL in value:
            return f"header {name.decode('latin-1')}"
    if SENTINEL_PREFIX in request.path:
        return "URL"
    if sentinel_in_body(request):
        return "request body"
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
            errors.answer(flow, 502, "ccproxy_sentinel_error", meta.error)
