"""Context anatomy: where a request's input tokens go (system blocks, tool schemas by source, memory
files, history, tool results, images), and how that changes turn by turn.

Counts are estimates, and say so: no tokenizer for Claude or Gemini ships with a package, and
`tiktoken` fetches its vocabularies at run time, so ccproxy counts characters (about four to a token,
JSON framing included) and then calibrates: when the provider reported the request's input tokens, every
part is scaled so the parts add up to exactly what was billed (`method` and `scale` say which).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ccproxy.errors import FlowError
from ccproxy.flows.library import FlowLibrary
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.wire.endpoints import main_endpoint

CHARS_PER_TOKEN = 4.0
#: An image's tokens without its size: Anthropic's figure for a ~1.15 megapixel image.
IMAGE_TOKENS = 1600
#: Instruction/memory files Claude Code and similar agents paste into the prompt, named by path.
_MEMORY = re.compile(r"Contents of (?P<path>\S+?\.(?:md|txt|mdc))\b")
_MCP = re.compile(r"^mcp__(?P<server>.+?)__")


@dataclass
class Part:
    """One piece of the prompt: its category, a name, and its size."""

    category: str  # system | memory | tools | history | tool_results | images | framing
    name: str
    chars: int
    tokens: float = 0.0  # estimated, then calibrated

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "name": self.name, "chars": self.chars, "tokens": round(self.tokens)}


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value, ensure_ascii=False))


def _image_chars(value: Any) -> int:
    """The characters of base64 image data inside `value` (counted as images, not as text)."""
    if isinstance(value, dict):
        source = value.get("source") or value.get("inline_data") or value.get("inlineData")
        if isinstance(source, dict) and isinstance(source.get("data"), str):
            return len(source["data"])
        url = value.get("image_url")
        url = url.get("url") if isinstance(url, dict) else url
        if isinstance(url, str) and url.startswith("data:"):
            return len(url)
        return sum(_image_chars(v) for v in value.values())
    if isinstance(value, list):
        return sum(_image_chars(v) for v in value)
    return 0


def _is_image(block: Any) -> bool:
    return isinstance(block, dict) and (block.get("type") in ("image", "image_url", "input_image")
                                        or "inline_data" in block or "inlineData" in block)


def tool_source(name: str) -> str:
    """`mcp__server__tool` -> `mcp:server`; anything else is the client's own (`builtin`)."""
    m = _MCP.match(name)
    return f"mcp:{m.group('server')}" if m else "builtin"


def _system_parts(system: Any) -> Iterator[Part]:
    blocks = [system] if isinstance(system, str) else system if isinstance(system, list) else []
    for i, block in enumerate(blocks):
        text = block if isinstance(block, str) else str(block.get("text", "")) if isinstance(block, dict) else ""
        yield from _text_parts("system", f"system[{i}]", text, _size(block))


def _text_parts(category: str, name: str, text: str, size: int) -> Iterator[Part]:
    """A block, with each memory file it quotes split out under its path."""
    spans = [m for m in _MEMORY.finditer(text)]
    for j, m in enumerate(spans):
        end = spans[j + 1].start() if j + 1 < len(spans) else len(text)
        size -= end - m.start()
        yield Part("memory", m.group("path"), end - m.start())
    yield Part(category, name, max(0, size))


def _tool_name(tool: Any) -> str:
    if not isinstance(tool, dict):
        return "?"
    fn = tool.get("function")
    return str((fn.get("name") if isinstance(fn, dict) else None) or tool.get("name") or tool.get("type") or "?")


def _tool_parts(tools: Any) -> Iterator[Part]:
    for tool in tools if isinstance(tools, list) else []:
        decls = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for t in decls if isinstance(decls, list) else [tool]:
            yield Part("tools", f"{tool_source(_tool_name(t))}/{_tool_name(t)}", _size(t))


def _block_parts(role: str, blocks: Any, names: dict[str, str]) -> Iterator[Part]:
    """Anthropic/OpenAI content blocks of one message."""
    if isinstance(blocks, str):
        yield from _text_parts("history", f"{role} text", blocks, _size(blocks))
        return
    for b in blocks if isinstance(blocks, list) else []:
        if _is_image(b):
            yield Part("images", f"{role} image", _image_chars(b))
            continue
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "tool_use":
            names[str(b.get("id"))] = str(b.get("name"))
            yield Part("history", f"{role} tool call", _size(b))
        elif kind == "tool_result":
            inner = b.get("content")
            images = _image_chars(inner)
            if images:
                yield Part("images", "tool result image", images)
            yield Part("tool_results", names.get(str(b.get("tool_use_id")), "?"), _size(b) - images)
        elif isinstance(b, dict) and kind == "text":
            yield from _text_parts("history", f"{role} text", str(b.get("text", "")), _size(b))
        else:
            yield Part("history", f"{role} {kind or 'block'}", _size(b))


def _message_parts(messages: Any) -> Iterator[Part]:
    names: dict[str, str] = {}
    for msg in messages if isinstance(messages, list) else []:
        if not isinstance(msg, dict):
            continue
        role = str(msg.get("role") or msg.get("type") or "item")
        if role == "system" or role == "developer":
            yield from _system_parts(msg.get("content"))
        elif role == "tool":
            yield Part("tool_results", names.get(str(msg.get("tool_call_id")), "?"), _size(msg))
        elif msg.get("type") == "function_call_output":
            yield Part("tool_results", names.get(str(msg.get("call_id")), "?"), _size(msg))
        elif msg.get("type") == "function_call":
            names[str(msg.get("call_id"))] = str(msg.get("name"))
            yield Part("history", "assistant tool call", _size(msg))
        else:
            for call in msg.get("tool_calls") or []:
                if isinstance(call, dict):
                    names[str(call.get("id"))] = _tool_name(call)
            blocks = msg.get("content") if "content" in msg else msg.get("parts")
            if msg.get("tool_calls"):
                yield Part("history", f"{role} tool call", _size(msg.get("tool_calls")))
            yield from _gemini_or_blocks(role, blocks, names)


def _gemini_or_blocks(role: str, blocks: Any, names: dict[str, str]) -> Iterator[Part]:
    if isinstance(blocks, list) and any(isinstance(p, dict) and ("functionResponse" in p or "functionCall" in p)
                                        for p in blocks):
        for p in blocks:
            if isinstance(p, dict) and "functionResponse" in p:
                yield Part("tool_results", str((p["functionResponse"] or {}).get("name", "?")), _size(p))
            else:
                yield from _block_parts(role, [p], names)
        return
    yield from _block_parts(role, blocks, names)


def parts_of(body: dict[str, Any]) -> list[Part]:
    """Every part of a request body (any of the four wire formats), framing included so sizes add up."""
    parts = list(_system_parts(body.get("system")))
    system_instruction = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system_instruction, dict):
        parts += _system_parts(system_instruction.get("parts"))
    if isinstance(body.get("instructions"), str):
        parts += _system_parts(body["instructions"])
    parts += _tool_parts(body.get("tools"))
    conversation = body.get("messages") or body.get("contents") or body.get("input")
    if isinstance(conversation, str):
        conversation = [{"role": "user", "content": conversation}]
    parts += _message_parts(conversation)
    framing = _size(body) - sum(p.chars for p in parts)
    parts.append(Part("framing", "keys, model, settings", max(0, framing)))
    return parts


def prompt_tokens(usage: Any, fmt: str | None) -> int | None:
    """The input tokens the provider billed for the whole request (cache reads and writes included)."""
    if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
        return None
    total = int(usage["input_tokens"])
    if fmt in (None, "anthropic"):  # Anthropic counts cached tokens apart; the others include them
        total += int(usage.get("cache_read_input_tokens") or 0) + int(usage.get("cache_creation_input_tokens") or 0)
    return total


def breakdown(body: Any, usage: Any = None, fmt: str | None = None) -> dict[str, Any]:
    """Parts, per-category totals and the largest tool results, calibrated against `usage` when given."""
    parts = parts_of(body) if isinstance(body, dict) else []
    for p in parts:
        p.tokens = float(IMAGE_TOKENS) if p.category == "images" else p.chars / CHARS_PER_TOKEN
    estimate = sum(p.tokens for p in parts)
    reported = prompt_tokens(usage, fmt)
    scale = reported / estimate if reported and estimate else None
    if scale is not None:
        for p in parts:
            p.tokens *= scale
    categories: dict[str, dict[str, Any]] = {}
    for p in parts:
        entry = categories.setdefault(p.category, {"tokens": 0.0, "parts": 0})
        entry["tokens"] += p.tokens
        entry["parts"] += 1
    groups: dict[str, float] = {}
    for p in parts:
        if p.category == "tools":
            groups[p.name.split("/", 1)[0]] = groups.get(p.name.split("/", 1)[0], 0.0) + p.tokens
    results = sorted((p for p in parts if p.category == "tool_results"), key=lambda p: -p.tokens)
    return {
        "method": "estimate (chars/4), calibrated to the provider's usage" if scale else "estimate (chars/4)",
        "estimated_tokens": round(estimate),
        "reported_tokens": reported,
        "scale": round(scale, 4) if scale else None,
        "total_tokens": round(sum(p.tokens for p in parts)),
        "categories": {k: {"tokens": round(v["tokens"]), "parts": v["parts"]} for k, v in categories.items()},
        "tool_sources": {k: round(v) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "largest_tool_results": [p.to_json() for p in results[:5]],
        "parts": [p.to_json() for p in parts],
    }


def growth(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Category totals per turn (breakdowns, oldest first) and what each category added since the turn before."""
    out: list[dict[str, Any]] = []
    previous: dict[str, int] = {}
    for turn in turns:
        now = {k: int(v["tokens"]) for k, v in turn["categories"].items()}
        out.append({"flow_id": turn.get("flow_id"), "total_tokens": turn["total_tokens"], "categories": now,
                    "grew": {k: now.get(k, 0) - previous.get(k, 0) for k in sorted(set(now) | set(previous))
                             if now.get(k, 0) != previous.get(k, 0)}})
        previous = now
    return out


def flow_breakdown(flow: StoredFlow) -> dict[str, Any]:
    """`breakdown` of a stored flow's forwarded request, against the usage its answer reported."""
    req = flow.doc.get("request") or {}
    endpoint = main_endpoint(str(req.get("path") or ""))
    fmt = endpoint.format if endpoint else None
    try:
        body = json.loads(flow.body("request") or b"")
    except ValueError:
        body = None
    return {"flow_id": flow.id, "format": fmt, "model": flow.ccproxy.get("model"),
            **breakdown(body, flow.ccproxy.get("usage"), fmt)}


def context_report(library: FlowLibrary, id_prefix: str | None, jq: Sequence[str] = (),
                   with_growth: bool = False) -> dict[str, Any]:
    """One flow's breakdown (default: the newest of the set); with `with_growth`, every turn of its
    conversation up to it, with what each category added turn by turn."""
    flow = library.get_flow(id_prefix, jq) if id_prefix else library.latest(jq)
    if flow is None:
        raise FlowError("no flows in the set; send a request through ccproxy first, or loosen --jq")
    doc = flow_breakdown(flow)
    if with_growth:
        conversation = flow.ccproxy.get("conversation_id")
        ids = [str(d["id"]) for d in library.docs(jq)
               if conversation and (d.get("ccproxy") or {}).get("conversation_id") == conversation]
        ids = ids[: ids.index(flow.id) + 1] if flow.id in ids else [flow.id]
        doc["growth"] = growth([flow_breakdown(f) for f in library.iter_flows(ids)])
    return doc
