"""commitbee's compatibility shim: its answer reaches it as raw JSON, without a markdown code fence.

commitbee (a Conventional Commit message generator) parses the model's answer as JSON and fails
when a model wraps it in "```json ... ```". The reference appends "no fences" to the system prompt;
models still fence now and then, so this hook takes the fence off the answer instead (streamed or
not, in the client's format; `wire/fences.py`) and leaves the request as the client sent it.
Recognised by commitbee's system prompt. Off unless listed in `hooks.outbound`: the example of a
per-client compatibility hook (match the client on its request, fix what it cannot read).
"""

from __future__ import annotations

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.wire.fences import FenceStripper

MARKER = b"You generate Conventional Commit messages from git diffs"


@hook(reads=["client_request.body"], writes=["response.body"], stage="outbound")
def commitbee_compat(ctx: HookContext) -> None:
    """commitbee's requests: the answer's markdown code fence is taken off before it reaches commitbee."""
    client = ctx.meta.client_request
    body = client.body if client is not None else ctx.flow.request.raw_content or b""
    if MARKER not in body:
        return
    # First in the list: on a translated stream it sees the provider's events, and rewrites any format.
    ctx.meta.stream_filters.insert(0, FenceStripper())
