"""Read the client's session id from Anthropic's `metadata.user_id` so flows group by session."""

from __future__ import annotations

import json
import re

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook

# Claude Code writes `user_<hash>_account_<uuid>_session_<uuid>`; other clients put a bare id there.
_SESSION = re.compile(r"session_([0-9A-Za-z-]+)")


def session_from_user_id(user_id: str) -> str:
    if user_id.lstrip().startswith("{"):
        try:
            doc = json.loads(user_id)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("session_id"), str):
            return str(doc["session_id"])
    m = _SESSION.search(user_id)
    return m.group(1) if m else user_id


@hook(reads=["request.body"], writes=["metadata.session_id"])
def extract_session_id(ctx: HookContext) -> None:
    """metadata.user_id of an Anthropic body -> `.ccproxy.session_id`."""
    raw = ctx.flow.request.raw_content
    if not raw or b"user_id" not in raw:
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return
    metadata = body.get("metadata") if isinstance(body, dict) else None
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str) and user_id:
        ctx.meta.session_id = session_from_user_id(user_id)
