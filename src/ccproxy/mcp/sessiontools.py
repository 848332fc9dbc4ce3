"""MCP tools that read the flow set as agent sessions: `list_conversations`, `explain_cache`, `lint_streams`,
`turn_diff`. Same semantics as `ccproxy flows tree|cache|lint|turndiff`: the same `FlowLibrary` answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

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
CostBy = Annotated[Literal["model", "session", "day", "flow"], Field(
    description="one row per model that answered, session id, UTC day, or flow")]
Growth = Annotated[bool, Field(description="also every turn of the flow's conversation and what each part added")]
AllStreams = Annotated[bool, Field(description="include valid streams too (default: only invalid ones)")]
ReplayTo = Annotated[str | None, Field(
    description="PROVIDER or PROVIDER/MODEL from ccproxy.yaml's providers (translated when it speaks another wire "
    "format); omitted: today's routing of the original request")]
ReplayTimes = Annotated[int, Field(ge=1, le=20, description="how many times to send it")]
Forwarded = Annotated[bool, Field(description="resend what ccproxy forwarded instead of what the client sent")]
_SPENDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
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

    def context_breakdown(self, flow_id: str | None, jq: Sequence[str] = (), growth: bool = False) -> dict[str, Any]:
        from ccproxy.sessions.context import context_report

        doc = context_report(self.library, flow_id, jq, growth)
        doc["parts"] = sorted(doc["parts"], key=lambda p: -p["tokens"])[:40]  # the biggest; the rest add up in categories
        return doc

    def quota_status(self, jq: Sequence[str] = ()) -> list[dict[str, Any]]:
        from ccproxy.sessions.quota import quota_of_docs

        return quota_of_docs(self.library.docs(jq))

    def replay(self, flow_id: str, proxy_url: str, to: str | None, times: int, forwarded: bool,
               jq: Sequence[str] = ()) -> dict[str, Any]:
        from ccproxy.auth.sentinel import sentinel_for
        from ccproxy.sessions.replays import replay_and_compare

        result = replay_and_compare(self.library, flow_id, proxy_url, sentinel_for, to, times, forwarded, list(jq))
        for row in (result["original"], *result["replays"]):
            row["text"] = (row["text"] or "")[:4000] or None
        return result

    def cost(self, jq: Sequence[str] = (), by: str = "model") -> dict[str, Any]:
        from ccproxy.sessions.cost import table_version
        from ccproxy.sessions.spend import spend

        report = spend(self.library.docs(jq), by, self.library.config.prices)
        report["rows"] = report["rows"][-200:]
        return {**report, "prices": f"genai-prices {table_version()}"}


def register(server: MCPServer[Any], work: Worker, proxy_url: Callable[[], str] | None = None) -> None:
    """Add the session tools, wrapped like every other flow tool (a CCProxyError reaches the agent). They
    run in the worker process: building a session tree parses every flow of the set, which would hold
    the daemon's event loop (and every proxied request) for seconds on a big store."""

    async def list_conversations(jq: JqArg = None, limit: SessionLimit = 0, offset: OffsetArg = 0,
                                 max_chars: MaxCharsArg = 0) -> str:
        """The set as agent sessions (like `ccproxy flows tree --json`): session -> conversations -> turns,
        a subagent conversation (started while a Task/Agent tool call was pending) nested under the turn
        that spawned it. Each conversation and turn: model, input/output/cache-read/cache-write tokens,
        cost in USD (`cost`, per conversation also `cost_with_subagents`; "unknown" prices are counted, never guessed),
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

    async def session_cost(jq: JqArg = None, by: CostBy = "model") -> str:
        """What the set cost in USD (like `ccproxy flows cost --by ...`): per row the flows, tokens, the
        priced sum and how many flows had no known price (model names listed), from the bundled
        genai-prices table and `prices:` in ccproxy.yaml."""
        return await work.call("sessions", "cost", filters(jq), by)

    async def context_breakdown(id: CacheFlowId = None, jq: JqArg = None, growth: Growth = False) -> str:
        """Where one request's input tokens go (like `ccproxy flows context`): each system block, tool schemas
        grouped by MCP server (`mcp__server__tool`), memory files quoted in the prompt, history, tool results
        (the largest named), images; estimated from characters and calibrated to the usage the provider
        reported. With growth: every turn of its conversation and which parts grew."""
        return await work.call("sessions", "context_breakdown", id, filters(jq), growth)

    async def quota_status(jq: JqArg = None) -> str:
        """Subscription windows and rate limits per credential (like `ccproxy flows quota`): per cent used,
        reset time, status, and how much each session and model consumed, from the providers' headers."""
        return await work.call("sessions", "quota_status", filters(jq))

    for fn in (list_conversations, explain_cache, lint_streams, turn_diff, session_cost, context_breakdown,
               quota_status):
        server.add_tool(agent_tool(fn), name=fn.__name__, annotations=_READ, structured_output=False)

    if proxy_url is None:
        return

    async def replay_flow(id: FlowId, to: ReplayTo = None, times: ReplayTimes = 1, forwarded: Forwarded = False,
                          jq: JqArg = None) -> str:
        """Resend a recorded request through ccproxy, as the client sent it or to another provider/model
        (like `ccproxy flows replay`), to see what that model would have answered on this exact turn. SPENDS
        MONEY on the provider: call it only when the user asked for a replay. The new flows are recorded with
        `.ccproxy.replay_of`; the answer compares the original and each replay: text, tool calls, stop reason,
        usage, cost, latency and first-token time."""
        return await work.call("sessions", "replay", id, proxy_url(), to, times, forwarded, filters(jq))

    server.add_tool(agent_tool(replay_flow), name="replay_flow", annotations=_SPENDS, structured_output=False)
