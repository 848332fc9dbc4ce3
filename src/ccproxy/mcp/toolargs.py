"""What every MCP tool module shares: the argument types (their descriptions are what the agent reads)
and `agent_tool`, the wrapper that runs a tool off the event loop. Its own module, so `server.py`
and `sessiontools.py` (which `server.py` registers) both import it without a cycle."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Protocol

import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ccproxy.errors import CCProxyError
from ccproxy.mcp.paging import DEFAULT_PAGE, MAX_PAGE, answer

JqArg = Annotated[
    list[str] | str | None,
    Field(
        description="jq filters over the JSON array of flows (oldest first), applied in order after the "
        "configured flows.default_jq_filters; each must return an array. Examples: "
        "'map(select(.response.status_code >= 400))', '.[-5:]', "
        "'map(select(.ccproxy.model | test(\"claude\")))'."
    ),
]
FlowIdArg = Annotated[
    str | None, Field(description="flow id or any unique prefix of it; omitted: the newest flow in the set")
]
OffsetArg = Annotated[int, Field(ge=0, description="character offset of the page; take it from the truncation marker")]
MaxCharsArg = Annotated[
    int, Field(ge=0, le=MAX_PAGE, description=f"page size in characters (0: {DEFAULT_PAGE}, at most {MAX_PAGE})")
]
LimitArg = Annotated[int, Field(ge=0, le=1000, description="how many of the newest entries to return (0: 100)")]


def agent_tool[F: Callable[..., Any]](fn: F) -> F:
    """Wrap a tool: off the event loop, answer capped, a CCProxyError's message reaches the agent (the SDK
    hides unexpected exceptions' text). A coroutine tool awaits its own off-loop work (the worker process)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return answer(await fn(*args, **kwargs))
            except CCProxyError as exc:
                raise ToolError(str(exc)) from exc

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(lambda: answer(fn(*args, **kwargs)))
        except CCProxyError as exc:
            raise ToolError(str(exc)) from exc

    return run  # type: ignore[return-value]


class Worker(Protocol):
    """What a tool registered on the server calls to run in the worker pool (`offload.ToolProcess`);
    named here so the tool modules that `offload.py` starts need not import it back."""

    async def call(self, kind: str, method: str, *args: Any, **kwargs: Any) -> str: ...
