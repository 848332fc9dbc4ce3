"""gemini-cli's Code Assist calls (`cloudcode-pa`, `/v1internal:<method>`): the envelope's facts onto the flow.

The envelope itself is read by `wire/codeassist.py` wherever a flow is read, and translated by the
router when a rule sends the call elsewhere; this hook is where "check the gemini_cli outbound hook"
leads. It never changes the request (passthrough and redirect keep the envelope byte for byte): it
takes the session id gemini-cli puts inside the envelope (`request.session_id`), and warns when an
envelope is about to reach a host that is not Code Assist untranslated, which no such host can read.
"""

from __future__ import annotations

import json
from typing import Any

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.wire import codeassist


def envelope_of(ctx: HookContext) -> dict[str, Any] | None:
    """The client's Code Assist request envelope, as it sent it (before any translation), or None."""
    client = ctx.meta.client_request
    url = client.url if client is not None else ctx.flow.request.url
    path = url.split("://", 1)[-1].partition("/")[2]
    if codeassist.call_of("/" + path) is None:
        return None
    raw = client.body if client is not None else ctx.flow.request.raw_content or b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return None
    return body if codeassist.is_request(body) else None


@hook(reads=["client_request.body"], writes=["metadata.session_id"], stage="outbound")
def gemini_cli(ctx: HookContext) -> None:
    """Code Assist envelope: `request.session_id` -> `.ccproxy.session_id`; warn if it leaves untranslated."""
    body = envelope_of(ctx)
    if body is None:
        return
    session = body["request"].get("session_id")
    if isinstance(session, str) and session and not ctx.meta.session_id:
        ctx.meta.session_id = session
    info = ctx.meta.transform
    if info is not None and info.mode == "redirect" and ctx.flow.request.pretty_host != codeassist.HOST:
        ctx.warn(
            f"a Code Assist envelope goes to {ctx.flow.request.pretty_host} as is, and only Code Assist reads it; "
            "use an inspector.transforms rule with action: transform to translate it for that provider"
        )
