"""The MCP server: flow-inspection and shape tools, `proxy://status`, and the `/mcp/notify` bridge, behind one
bearer gate.

Built on the official SDK's `MCPServer` with its streamable-HTTP transport at `/mcp`. Tools are
thin: they parse arguments, call `FlowTools` (over the daemon's `FlowLibrary`) or `ShapeTools`
(`ccproxy.shapes.api`) in a worker process (`mcp/offload.py`: a thread still stalled the proxy's
event loop on the GIL), and turn a `CCProxyError` into a tool error whose text tells the agent what
to do. Every answer is capped (`paging.ANSWER_CAP`); long text is paged, long fields are cut with a
marker that names the call returning the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from ccproxy import __version__
from ccproxy.mcp import MCP_PATH
from ccproxy.mcp.auth import BearerGate
from ccproxy.mcp.flowtools import FlowTools, filters
from ccproxy.mcp.notifications import Notification, NotificationBuffer
from ccproxy.mcp.offload import ToolProcess
from ccproxy.mcp.paging import DEFAULT_PREVIEW, MAX_PAGE
from ccproxy.mcp.status import DaemonFacts, namespace_doc, status_doc
from ccproxy.mcp.toolargs import FlowIdArg, JqArg, LimitArg, MaxCharsArg, OffsetArg, agent_tool

log = logging.getLogger("ccproxy.mcp")

NOTIFY_PATH = "/mcp/notify"
NOTIFY_MAX_BYTES = 64 * 1024

#: Removes cleared flows from the daemon's live mitmweb view: (ids, everything).
Forget = Callable[[Sequence[str], bool], None]

INSTRUCTIONS = """\
ccproxy records every LLM API request that passes through it (client request as sent, request as
forwarded, provider response, response the client got). Start with list_flows, then get_flow on an
id (any unique prefix). Every flow tool takes `jq`: a list of jq filters applied in order to the
JSON array of flows, each returning an array, e.g. ["map(select(.response.status_code >= 400))"]
or [".[-3:]"]. Long text comes back in pages: follow the truncation marker's offset.
list_conversations shows the set as agent sessions (subagents nested), explain_cache says why a turn's
prompt cache missed, lint_streams checks recorded SSE streams, turn_diff diffs a turn against the last.
capture_shape saves a provider's request shape from its newest 2xx flow; list_shapes shows the saved ones.
"""

_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def _register_flow_tools(server: MCPServer[Any], tools: FlowTools, work: ToolProcess, forget: Forget | None) -> None:
    def tool(fn: Callable[..., Any], annotations: ToolAnnotations = _READ) -> None:
        server.add_tool(agent_tool(fn), name=fn.__name__, annotations=annotations, structured_output=False)

    async def list_flows(jq: JqArg = None, limit: LimitArg = 0) -> str:
        """Summary rows of the flow set (like `ccproxy flows list`): id, method, status, host, path, model,
        provider, token usage, source, start time, duration, session and conversation ids, error.
        Rows are oldest first; only the newest `limit` are returned, `total` counts the whole set."""
        return await work.call("flows", "list_flows", filters(jq), limit)

    async def get_flow(id: FlowIdArg = None, jq: JqArg = None,
                       max_body_chars: Annotated[int, Field(ge=0, le=MAX_PAGE, description="preview size per body "
                                                            f"(0: {DEFAULT_PREVIEW})")] = 0,
                       full: Annotated[bool, Field(description="the whole answer uncut, as JSON text one page at a "
                                                   "time (a long field, e.g. a huge header, is otherwise cut)")] = False,
                       offset: OffsetArg = 0, max_chars: MaxCharsArg = 0) -> str:
        """One flow (like `ccproxy flows show --json`): the flow JSON with its `.ccproxy` metadata, a preview
        of each of the four bodies (client_request, request as forwarded, upstream_response, response the
        client got; credentials masked), streamed answers reassembled (text, tool calls, stop reason,
        usage) and SSE event counts. Page through a full body with get_request_body/get_response_body.
        A string over 4,000 characters is cut with a marker; `full=true` pages through it all."""
        return await work.call("flows", "get_flow", id, filters(jq), max_body_chars, full, offset, max_chars)

    async def get_request_body(id: FlowIdArg = None,
                         phase: Annotated[Literal["request", "client_request"], Field(
                             description="`request`: as forwarded to the provider; `client_request`: as the "
                             "client sent it")] = "request",
                         jq: JqArg = None, offset: OffsetArg = 0, max_chars: MaxCharsArg = 0,
                         raw: Annotated[bool, Field(description="as captured, not pretty-printed")] = False) -> str:
        """A request body as text, one page at a time (JSON pretty-printed, credentials masked). A cut page
        ends with a marker giving the offset of the next page."""
        return await work.call("flows", "body", id, phase, filters(jq), offset, max_chars, raw)

    async def get_response_body(id: FlowIdArg = None,
                          phase: Annotated[Literal["response", "upstream_response"], Field(
                              description="`response`: what the client got; `upstream_response`: what the "
                              "provider sent")] = "response",
                          jq: JqArg = None, offset: OffsetArg = 0, max_chars: MaxCharsArg = 0,
                          raw: Annotated[bool, Field(description="as captured, not pretty-printed")] = False) -> str:
        """A response body as text, one page at a time (a stream is its raw SSE text; get_flow has it
        reassembled). A cut page ends with a marker giving the offset of the next page."""
        return await work.call("flows", "body", id, phase, filters(jq), offset, max_chars, raw)

    async def compare_flows(jq: JqArg = None, id: Annotated[str | None, Field(
                          description="compare just this flow (id or unique prefix)")] = None,
                      json: Annotated[bool, Field(description="machine-readable comparison")] = False,
                      offset: OffsetArg = 0, max_chars: MaxCharsArg = 0) -> str:
        """What ccproxy changed, per flow in the set (like `ccproxy flows compare`): client request vs
        forwarded request (URL, headers, body diff), then provider response vs the response the client got.
        Use it to debug auth, routing, transforms and hooks."""
        return await work.call("flows", "compare", filters(jq), id, json, offset, max_chars)

    async def diff_flows(jq: JqArg = None,
                   client: Annotated[bool, Field(description="diff the client's request bodies instead of the "
                                                 "forwarded ones")] = False,
                   offset: OffsetArg = 0, max_chars: MaxCharsArg = 0) -> str:
        """Unified diffs of request bodies across consecutive flows of the set (f0->f1, f1->f2, ...), like
        `ccproxy flows diff`: how a conversation's requests grow turn by turn. Needs at least two flows."""
        return await work.call("flows", "diff", filters(jq), client, offset, max_chars)

    def dump_har(jq: JqArg = None, offset: OffsetArg = 0, max_chars: MaxCharsArg = 0) -> str:
        """The set as a multi-page HAR 1.2 JSON document (like `ccproxy flows dump`), credentials always
        masked; two entries per flow (forwarded request + provider response, client request + response)."""
        return tools.dump_har(filters(jq), offset, max_chars)

    async def clear_flows(jq: JqArg = None,
                          all: Annotated[bool, Field(description="delete every flow, ignoring all filters")] = False,
                          ) -> str:
        """Delete the flow set from the store and the live inspector view (like `ccproxy flows clear`):
        only the flows the filters select (with no `jq`: the whole default set). Cannot be undone."""
        result, text = await work.call_raw("flows", "clear", filters(jq), all)
        if forget is not None:
            forget(result["ids"], all)
        return text

    for fn in (list_flows, get_flow, get_request_body, get_response_body, compare_flows, diff_flows, dump_har):
        tool(fn)
    tool(clear_flows, _DESTRUCTIVE)


def _register_shape_tools(server: MCPServer[Any], work: ToolProcess) -> None:
    async def capture_shape(provider: Annotated[str, Field(
                          description="the provider the shape is for: a name under `providers` (or "
                          "`shaping.providers`) in ccproxy.yaml, e.g. \"anthropic\"; `status` lists them")],
                      jq: JqArg = None,
                      mflow: Annotated[bool, Field(description="save a request-only mitmproxy flow file "
                                                   "(<provider>.mflow) instead of the JSON envelope")] = False,
                      ) -> str:
        """Save the newest flow of the set that was answered 2xx for a path matching the provider's
        shaping.providers.<provider>.capture.path_pattern as that provider's shape (like `ccproxy shapes
        save`): its request envelope, credentials, cookies and content fields removed, mode 0600. Replaces
        the provider's previous shape. Answers the file, form, source flow id, endpoint, status, header
        names, body keys and what was removed; never a header value or a body."""
        return await work.call("shapes", "capture_shape", provider, filters(jq), mflow)

    async def list_shapes() -> str:
        """Every saved shape in shaping.shapes_dir (like `ccproxy shapes list --json`): provider, form, file,
        source flow id, capture time, method, host, path, header count, body keys; a file that cannot be
        read has `error` instead. An empty list: none saved yet (capture_shape saves one)."""
        return await work.call("shapes", "list_shapes")

    server.add_tool(agent_tool(capture_shape), name="capture_shape", annotations=_DESTRUCTIVE,
                    structured_output=False)
    server.add_tool(agent_tool(list_shapes), name="list_shapes", annotations=_READ, structured_output=False)


def _register_status(server: MCPServer[Any], facts: DaemonFacts) -> None:
    def status() -> dict[str, Any]:
        """The running daemon (like `ccproxy status --json`, without tokens): version, pid, uptime, listener
        URLs, providers and their auth type, the hook pipeline, stored flow count, pending notifications."""
        return status_doc(facts)

    def namespace_status() -> dict[str, Any]:
        """Facts about the capture jail behind `ccproxy run --inspect` (like `ccproxy namespace status
        --json`): permissive mode, WireGuard config presence, slirp4netns topology, required tool paths."""
        return namespace_doc(facts)

    server.add_tool(agent_tool(status), name="status", annotations=_READ, structured_output=False)
    server.add_tool(agent_tool(namespace_status), name="namespace_status", annotations=_READ,
                    structured_output=False)

    @server.resource("proxy://status", name="status", mime_type="application/json",
                     description="The same document as the status tool.")
    def status_resource() -> str:
        return json.dumps(status_doc(facts), indent=2)


def build_server(facts: DaemonFacts, forget: Forget | None = None) -> MCPServer[Any]:
    """The MCPServer with every tool and resource; no transport yet."""
    server: MCPServer[Any] = MCPServer(
        "ccproxy", title="ccproxy flow inspector", version=__version__, instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    from ccproxy.flows.library import FlowLibrary

    library = FlowLibrary(facts.config, facts.config_dir)
    work = ToolProcess(library)
    _register_flow_tools(server, FlowTools(library), work, forget)
    _register_shape_tools(server, work)
    from ccproxy.mcp import sessiontools

    sessiontools.register(server, work, lambda: facts.listeners()["proxy"])
    _register_status(server, facts)
    server.ccproxy_work = work  # type: ignore[attr-defined]  # build_app shuts its pool down with the app
    return server


async def _read_limited(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def notify_endpoint(buffer: NotificationBuffer) -> Callable[[Request], Any]:
    """`POST /mcp/notify`: validate one event and buffer it; 202 with the task's buffered count."""

    async def notify(request: Request) -> Response:
        body = await _read_limited(request, NOTIFY_MAX_BYTES)
        if body is None:
            return JSONResponse({"error": f"body over {NOTIFY_MAX_BYTES} bytes"}, status_code=413)
        try:
            note = Notification.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
            return JSONResponse(
                {"error": f"expected {{task_id, session_id, claude_session_id?, event: {{...}}}}: {problems}"},
                status_code=400,
            )
        count = buffer.add(note)
        log.debug("notification for task %s (session %s) buffered; %d pending", note.task_id, note.session_id, count)
        return JSONResponse({"status": "buffered", "task_id": note.task_id, "buffered": count}, status_code=202)

    return notify


def build_app(facts: DaemonFacts, token: str, host: str, forget: Forget | None = None) -> ASGIApp:
    """The whole ASGI app: `/mcp` (streamable HTTP) and `/mcp/notify`, every request behind the bearer gate."""
    server = build_server(facts, forget)
    if facts.notifications is not None:
        server.custom_route(NOTIFY_PATH, methods=["POST"], name="notify")(notify_endpoint(facts.notifications))
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerGate(ClosesOnShutdown(app, server.ccproxy_work.close), token)  # type: ignore[attr-defined]


class ClosesOnShutdown:
    """Runs `close` when the app's lifespan ends (uvicorn stopping): the tool worker processes go with it."""

    def __init__(self, app: ASGIApp, close: Callable[[], None]) -> None:
        self.app = app
        self.close = close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.close()
