"""Deliver buffered MCP notifications to the model: a synthetic tool call and its result at the conversation tail.

Events POSTed to `/mcp/notify` wait in the daemon's buffer until a request of the same session
(`.ccproxy.session_id`, from `extract_session_id`) goes out; this hook then appends one assistant
turn calling `tasks_get` for each task with news, and the matching tool results holding the events,
in the forwarded request's wire format. The model reads them as if it had polled. The tail is the
one place that keeps every tool_use/tool_result pairing of the client's history intact and leaves
the prompt-cache prefix untouched.

Two wire constraints shape the result:
- Anthropic rejects tool blocks unless the request declares tools; a request with none gets a
  `tasks_get` definition (a request with tools keeps its list, so its cache prefix stays valid).
- Anthropic with extended thinking requires the last assistant turn before tool results to start
  with a signed thinking block, which ccproxy cannot forge: there the events go in as a text block
  appended to the final user message instead.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.hook import hook
from ccproxy.wire.endpoints import main_endpoint

if TYPE_CHECKING:
    from ccproxy.mcp.notifications import Drained, NotificationBuffer

#: Gemini 3 wants a thought signature on every function call; this is Google's documented value for injected ones.
GEMINI_SKIP_SIGNATURE = "skip_thought_signature_validator"


class Params(BaseModel):
    tool_name: str = Field(default="tasks_get", description="the synthetic tool the model sees being called")


def _call_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(8)}"


def result_doc(d: Drained) -> dict[str, Any]:
    doc: dict[str, Any] = {"taskId": d.task_id, "events": d.events}
    if d.dropped:
        doc["droppedEvents"] = d.dropped
    return doc


def _last_role(items: Any) -> str | None:
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
        return None
    role = items[-1].get("role")
    return role if isinstance(role, str) else None


def injectable(body: Any, fmt: str) -> bool:
    """Can this request body take a synthetic turn at its tail? (If not, the events stay buffered.)"""
    if not isinstance(body, dict):
        return False
    if fmt == "anthropic":
        return _last_role(body.get("messages")) == "user"
    if fmt == "openai":
        return _last_role(body.get("messages")) in ("user", "tool")
    if fmt == "openai_responses":
        return isinstance(body.get("input"), (str, list)) and bool(body.get("input"))
    if fmt == "gemini":
        return _last_role(body.get("contents")) == "user"
    return False


def _thinking(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _anthropic_tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Status events of long-running tasks, delivered by ccproxy's MCP notification bridge. "
        "Results arrive on their own; there is no need to call this.",
        "input_schema": {"type": "object", "properties": {"taskId": {"type": "string"}}, "required": ["taskId"]},
    }


def inject_anthropic(body: dict[str, Any], drained: list[Drained], tool: str) -> str:
    messages: list[Any] = body["messages"]
    if _thinking(body):
        last = messages[-1]
        content = last.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        text = json.dumps([result_doc(d) for d in drained], ensure_ascii=False)
        blocks.append({"type": "text", "text": f"<mcp_notifications tool=\"{tool}\">{text}</mcp_notifications>"})
        last["content"] = blocks
        return "text"
    ids = [_call_id("toolu_ccproxy_") for _ in drained]
    messages.append({"role": "assistant", "content": [
        {"type": "tool_use", "id": i, "name": tool, "input": {"taskId": d.task_id}} for i, d in zip(ids, drained, strict=True)
    ]})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": i, "content": json.dumps(result_doc(d), ensure_ascii=False)}
        for i, d in zip(ids, drained, strict=True)
    ]})
    if not body.get("tools"):
        body["tools"] = [_anthropic_tool(tool)]
    return "tool"


def inject_openai(body: dict[str, Any], drained: list[Drained], tool: str) -> str:
    ids = [_call_id("call_ccproxy_") for _ in drained]
    body["messages"].append({"role": "assistant", "content": None, "tool_calls": [
        {"id": i, "type": "function", "function": {"name": tool, "arguments": json.dumps({"taskId": d.task_id})}}
        for i, d in zip(ids, drained, strict=True)
    ]})
    for i, d in zip(ids, drained, strict=True):
        body["messages"].append({"role": "tool", "tool_call_id": i, "content": json.dumps(result_doc(d), ensure_ascii=False)})
    return "tool"


def inject_responses(body: dict[str, Any], drained: list[Drained], tool: str) -> str:
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    ids = [_call_id("call_ccproxy_") for _ in drained]
    for i, d in zip(ids, drained, strict=True):
        items.append({"type": "function_call", "call_id": i, "name": tool, "arguments": json.dumps({"taskId": d.task_id})})
    for i, d in zip(ids, drained, strict=True):
        items.append({"type": "function_call_output", "call_id": i, "output": json.dumps(result_doc(d), ensure_ascii=False)})
    body["input"] = items
    return "tool"


def inject_gemini(body: dict[str, Any], drained: list[Drained], tool: str) -> str:
    body["contents"].append({"role": "model", "parts": [
        {"functionCall": {"name": tool, "args": {"taskId": d.task_id}}, "thoughtSignature": GEMINI_SKIP_SIGNATURE}
        for d in drained
    ]})
    body["contents"].append({"role": "user", "parts": [
        {"functionResponse": {"name": tool, "response": result_doc(d)}} for d in drained
    ]})
    return "tool"


INJECTORS = {
    "anthropic": inject_anthropic,
    "openai": inject_openai,
    "openai_responses": inject_responses,
    "gemini": inject_gemini,
}


@hook(reads=["request.body", "metadata.session_id"], writes=["request.body"], stage="outbound", params=Params)
def inject_mcp_notifications(ctx: HookContext) -> None:
    """Buffered /mcp/notify events of this flow's session -> a tool call + result at the conversation tail."""
    buffer: NotificationBuffer | None = ctx.services.notifications if ctx.services else None
    session = ctx.meta.session_id
    if buffer is None or not buffer.has(session):
        return
    endpoint = main_endpoint(ctx.flow.request.path)
    if endpoint is None:
        return
    try:
        body = json.loads(ctx.flow.request.get_content() or b"")
    except ValueError:
        return
    if not injectable(body, endpoint.format):
        return
    drained = buffer.drain(session)
    if not drained:
        return
    tool = ctx.params.tool_name if isinstance(ctx.params, Params) else Params().tool_name
    how = INJECTORS[endpoint.format](body, drained, tool)
    ctx.flow.request.content = json.dumps(body, ensure_ascii=False).encode()
    count = sum(len(d.events) for d in drained)
    ctx.meta.mcp_notifications = {"tasks": [d.task_id for d in drained], "events": count, "as": how}
    ctx.log.info("flow %s: injected %d MCP notification(s) of %d task(s) for session %s",
                 ctx.flow.id[:8], count, len(drained), session)
