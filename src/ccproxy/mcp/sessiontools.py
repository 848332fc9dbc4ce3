"""MCP tools that read the flow set as agent sessions: `list_conversations`, `explain_cache`, `lint_streams`,
`turn_diff`. Same semantics as `ccproxy flows tree|cache|lint|turndiff`: the same `FlowLibrary` answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from ccproxy.flows.library import FlowLibrary
from ccproxy.mcp.flowtools import filters
from ccproxy.mcp.paging import page
from ccproxy.mcp.toolargs import JqArg, MaxCharsArg, OffsetArg, Worker, agent_tool
from ccproxy.sessions.library import SessionLibrary
from ccproxy.sessions.tree import walk

DEFAULT_SESSIONS = 20
MAX_SESSIONS = 500
FlowId = Annotated[str, Field(description="flow id or any unique prefix of it (list_flows shows them)")]
CacheFlowId = Annotated[str | None, Field(
    description="explain the conversation of this flow (id or unique prefix); omitted: every turn of the set "
    "whose cache read fell short")]
SessionLimit = Annotated[int, Field(ge=0, le=MAX_SESSIONS,
                                    description=f"how many of the newest sessions (0: {DEFAULT_SESSIONS})")]
AllStreams = Annotated[bool, Field(description="include valid streams too (default: only invalid ones)")]
_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def _compact(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass
class SessionTools:
    library: FlowLibrary

    @property
    def sessions(self) -> SessionLibrary:
        return SessionLibrary(self.library)

    def conversations(self, jq: Sequence[str] = (), limit: int = 0, offset: int = 0, max_chars: int = 0) -> str:
        tree = self.sessions.tree(jq)
        size = DEFAULT_SESSIONS if limit <= 0 else min(limit, MAX_SESSIONS)
        shown = tree[-size:]
        doc = {"total_sessions": len(tree), "shown": len(shown), "conversations": len(walk(tree)), "sessions": shown}
        return page(_compact(doc), offset, max_chars, f"list_conversations(jq=<same>, limit={limit}")

    def explain_cache(self, flow_id: str | None, jq: Sequence[str] = (), offset: int = 0, max_chars: int = 0) -> str:
        report = self.sessions.cache(jq, flow_id)
        if flow_id:
            doc: dict[str, Any] = {"conversations": report}
        else:
            shortfalls = [dict(t, conversation=c["conversation"]) for c in report for t in c["turns"]
                          if t.get("cause") and t["cause"] != "cold_start"]
            doc = {"conversations": len(report), "turns": sum(len(c["turns"]) for c in report),
                   "shortfalls": shortfalls[-200:]}
        call = f'explain_cache(id="{flow_id}", jq=<same>' if flow_id else "explain_cache(jq=<same>"
        return page(_compact(doc), offset, max_chars, call)

    def lint(self, jq: Sequence[str] = (), all_streams: bool = False) -> dict[str, Any]:
        report = self.sessions.lint(jq)
        invalid = [r for r in report if not r["valid"]]
        shown = report if all_streams else invalid
        return {"streams": len(report), "invalid": len(invalid), "results": shown[-200:]}

    def turn_diff(self, flow_id: str, jq: Sequence[str] = ()) -> dict[str, Any]:
        return self.sessions.turn_diff(flow_id, jq)


def register(server: MCPServer[Any], work: Worker) -> None:
    """Add the session tools, wrapped like every other flow tool (a CCProxyError reaches the agent). They
    run in the worker process: building a session tree parses every flow of the set, which would hold
    the daemon's event loop (and every proxied request) for seconds on a big store."""

    async def list_conversations(jq: JqArg = None, limit: SessionLimit = 0, offset: OffsetArg = 0,
                                 max_chars: MaxCharsArg = 0) -> str:
        """The set as agent sessions (like `ccproxy flows tree --json`): session -> conversations -> turns,
        a subagent conversation (started while a Task/Agent tool call was pending) nested under the turn
        that spawned it. Each conversation and turn: model, input/output/cache-read/cache-write tokens,
        latency, TTFB, errors, stop reason, tool calls, and how the turn relates to the one before
        (continue, retry, fork). JSON text, one page at a time."""
        return await work.call("sessions", "conversations", filters(jq), limit, offset, max_chars)

    async def explain_cache(id: CacheFlowId = None, jq: JqArg = None, offset: OffsetArg = 0,
                            max_chars: MaxCharsArg = 0) -> str:
        """Prompt-cache forensics (like `ccproxy flows cache`): per turn cache read/write tokens, the read
        expected from the turn before, and on a shortfall the cause: cold_start, model_changed, ttl_expired
        (gap vs the 5 min / 1 h TTL), prefix_drift (the first divergent path and character offset, e.g.
        system[1].text at 812, and the cache_control breakpoints after it) or unexplained. JSON text, paged."""
        return await work.call("sessions", "explain_cache", id, filters(jq), offset, max_chars)

    async def lint_streams(jq: JqArg = None, all: AllStreams = False) -> str:
        """Check every recorded SSE stream against its wire format's event grammar (like `ccproxy flows
        lint`), the provider's stream and the client's separately, so a translation bug reads as
        "upstream valid, client stream invalid at event 17: ..." with the rule broken."""
        return await work.call("sessions", "lint", filters(jq), all)

    async def turn_diff(id: FlowId, jq: JqArg = None) -> str:
        """Structural diff of one turn's request against the turn of its conversation it continues (like
        `ccproxy flows turndiff`): JSON paths added, removed and changed, with short previews."""
        return await work.call("sessions", "turn_diff", id, filters(jq))

    for fn in (list_conversations, explain_cache, lint_streams, turn_diff):
        server.add_tool(agent_tool(fn), name=fn.__name__, annotations=_READ, structured_output=False)
