"""Opt-in: notice an agent stuck in a loop or over a token budget, then warn it or stop it.

The patterns come from the request alone (`ccproxy.sessions.loops`): its history holds every call and
result. Budgets need memory: this module keeps, per session, the estimated input tokens of each
request it saw (bounded: the newest `MAX_SESSIONS` sessions, one hour of entries each; lost on restart).

`action: warn` (the default) puts the finding on the flow, in the log, and, through the MCP
notification bridge, into this very request's conversation (the outbound `inject_mcp_notifications`
hook delivers it), so the agent itself reads that it is looping. `action: stop` refuses the request
with an error in the client's wire format that says why and how to lift it. Every decision is in
`.ccproxy.extra.loop_guard`. Enable it in `hooks.inbound` (after `extract_session_id`), or per
request with the header `x-ccproxy-hooks: +loop_guard`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Literal

from pydantic import BaseModel, Field

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.sessions.loops import Finding, estimate_tokens, find_loops, history
from ccproxy.wire.endpoints import main_endpoint

#: The MCP notification bridge's task id for the guard's news.
TASK_ID = "ccproxy-loop-guard"
MAX_SESSIONS = 1000
HOUR = 3600.0


class Params(BaseModel):
    action: Literal["warn", "stop"] = Field(default="warn", description="warn (flow, log, agent) or stop (refuse)")
    repeat_calls: int = Field(default=10, ge=0, description="same tool call, same arguments, this many times (0: off)")
    repeat_errors: int = Field(default=5, ge=0, description="the same tool error this many times (0: off)")
    stale_turns: int = Field(default=6, ge=0, description="this many assistant turns in a row with nothing new (0: off)")
    session_tokens: int | None = Field(default=None, ge=1, description="input tokens (estimated) per session")
    hourly_tokens: int | None = Field(default=None, ge=1, description="input tokens (estimated) per session per hour")
    notify: bool = Field(default=True, description="tell the agent through the MCP notification bridge (warn)")


class Ledger:
    """Estimated input tokens per session: the total, and the last hour's requests."""

    def __init__(self) -> None:
        self.totals: OrderedDict[str, int] = OrderedDict()
        self.recent: dict[str, deque[tuple[float, int]]] = {}
        self.lock = threading.Lock()

    def add(self, session: str, tokens: int, now: float) -> tuple[int, int]:
        """Count one request; returns (session total, last hour)."""
        with self.lock:
            self.totals[session] = self.totals.pop(session, 0) + tokens
            recent = self.recent.setdefault(session, deque())
            recent.append((now, tokens))
            while recent and recent[0][0] < now - HOUR:
                recent.popleft()
            while len(self.totals) > MAX_SESSIONS:
                gone, _ = self.totals.popitem(last=False)
                self.recent.pop(gone, None)
            return self.totals[session], sum(t for _, t in recent)


LEDGER = Ledger()


def budget_findings(params: Params, total: int, hourly: int) -> list[Finding]:
    found = []
    if params.session_tokens and total >= params.session_tokens:
        found.append(Finding("session_tokens", total, params.session_tokens, ""))
    if params.hourly_tokens and hourly >= params.hourly_tokens:
        found.append(Finding("hourly_tokens", hourly, params.hourly_tokens, ""))
    return found


def fresh(finding: Finding, spent: int) -> bool:
    """Worth a new warning: a loop count at a multiple of its limit, a budget just crossed."""
    if finding.rule in ("session_tokens", "hourly_tokens"):
        return finding.count - spent < finding.limit
    return finding.count % finding.limit == 0


def stop_message(findings: list[Finding]) -> str:
    why = "; ".join(f.sentence() for f in findings)
    return (f"ccproxy loop guard stopped this request: {why}. The agent looks stuck; change course or start a "
            "new session. To lift the guard: send the header `x-ccproxy-hooks: -loop_guard`, or raise its "
            "limits (or set action: warn) under hooks.inbound in ccproxy.yaml and restart ccproxy.")


@hook(reads=["request.body", "metadata.session_id"], writes=["metadata.loop_guard"], params=Params)
def loop_guard(ctx: HookContext) -> None:
    """Repeated tool calls / errors, turns with nothing new, or a token budget spent -> warn or stop."""
    endpoint = main_endpoint(ctx.flow.request.path)
    if endpoint is None:
        return
    params = ctx.params if isinstance(ctx.params, Params) else Params()
    raw = ctx.flow.request.get_content() or b""
    try:
        body = json.loads(raw)
    except ValueError:
        return
    findings = find_loops(history(body, endpoint.format), params.repeat_calls, params.repeat_errors, params.stale_turns)
    session, spent = ctx.meta.session_id, estimate_tokens(raw)
    if session and (params.session_tokens or params.hourly_tokens):
        total, hourly = LEDGER.add(session, spent, time.time())
        findings += budget_findings(params, total, hourly)
    if not findings:
        ctx.meta.loop_guard = {"action": "pass"}
        return
    decision: dict[str, Any] = {"action": params.action, "findings": [f.to_json() for f in findings]}
    ctx.meta.loop_guard = decision
    if params.action == "warn" and not any(fresh(f, spent) for f in findings):
        decision["action"] = "noted"  # warned when the count reached its limit; again at the next multiple
        return
    if params.action == "stop":
        message = stop_message(findings)
        ctx.meta.refusal = {"kind": "invalid_request", "message": message}
        ctx.log.warning("flow %s: %s", ctx.flow.id[:8], message)
        return
    message = "loop guard: " + "; ".join(f.sentence() for f in findings)
    ctx.warn(message)
    buffer = ctx.services.notifications if ctx.services else None
    if params.notify and buffer is not None and session:
        buffer.add_event(TASK_ID, session, {"type": "loop_guard", "action": "warn", "message": message,
                                            "findings": decision["findings"]})
        decision["notified"] = True
