"""The neutral model every wire format is read into and written from (one reader and one writer per format).

Conventions that keep the translators honest:
- `Usage.input_tokens` counts every prompt token, cached ones included (`cached_tokens` and
  `cache_write_tokens` are parts of it); `output_tokens` counts every generated token, reasoning
  included (`reasoning_tokens` is a part of it). Each format converts to and from its own accounting.
- Tool-call arguments are a parsed JSON object; in streams they travel as raw JSON text fragments.
- A stream is `Start`, then blocks one after another (`BlockStart`, `Delta`*, `BlockStop`), then
  `Finish`, then `Done`; a `Fail` may replace the rest at any point.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]
StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "content_filter", "refusal", "pause"
]
ErrorKind = Literal[
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "request_too_large",
    "rate_limit",
    "server",
    "overloaded",
    "timeout",
]


@dataclass
class Text:
    text: str


@dataclass
class Image:
    """An image given inline (`data`, base64) or by reference (`url`)."""

    media_type: str = ""
    data: str | None = None
    url: str | None = None


@dataclass
class Thinking:
    """Model reasoning; `signature` is the provider's opaque proof, `redacted` an encrypted block."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass
class ToolCall:
    """`signature` is Gemini's `thoughtSignature` for this call, which Gemini 3 wants back verbatim."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    signature: str | None = None


@dataclass
class ToolResult:
    call_id: str
    content: list[Text | Image] = field(default_factory=list)
    is_error: bool = False
    name: str | None = None  # Gemini answers by function name; filled from the matching call

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content if isinstance(p, Text))


Part = Text | Image | Thinking | ToolCall | ToolResult


@dataclass
class Message:
    role: Role
    parts: list[Part] = field(default_factory=list)


@dataclass
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass
class ToolChoice:
    """`any` = must call some tool; `tool` = must call `name`."""

    mode: Literal["auto", "none", "any", "tool"] = "auto"
    name: str | None = None


@dataclass
class Reasoning:
    enabled: bool = True
    budget_tokens: int | None = None
    effort: str | None = None  # minimal | low | medium | high | xhigh


@dataclass
class Request:
    model: str
    messages: list[Message] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    reasoning: Reasoning | None = None
    user: str | None = None
    output: OutputSchema | None = None


@dataclass
class OutputSchema:
    """Structured output: the JSON Schema the answer's text must follow (`name` where the format has one)."""

    schema: dict[str, Any]
    name: str = "output"
    strict: bool | None = None


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass
class Response:
    id: str
    model: str
    parts: list[Part] = field(default_factory=list)
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass
class ApiError:
    """A provider error in neutral terms; `status` is the HTTP status the client should see."""

    kind: ErrorKind
    message: str
    status: int = 0

    def __post_init__(self) -> None:
        if not self.status:
            self.status = STATUS_OF_KIND[self.kind]


STATUS_OF_KIND: dict[ErrorKind, int] = {
    "invalid_request": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "request_too_large": 413,
    "rate_limit": 429,
    "server": 500,
    "overloaded": 529,
    "timeout": 504,
}


def kind_of_status(status: int) -> ErrorKind:
    """The error kind a bare HTTP status means, for errors whose body says nothing more."""
    table: dict[int, ErrorKind] = {
        400: "invalid_request",
        401: "authentication",
        403: "permission",
        404: "not_found",
        413: "request_too_large",
        422: "invalid_request",
        429: "rate_limit",
        503: "overloaded",
        529: "overloaded",
        504: "timeout",
    }
    if status in table:
        return table[status]
    return "invalid_request" if 400 <= status < 500 else "server"


@dataclass(frozen=True)
class ClientOptions:
    """What the client asked for that shapes the answer beyond its format."""

    include_usage: bool = True  # OpenAI Chat streams: `stream_options.include_usage`
    json_array: bool = False  # Gemini `streamGenerateContent` without `alt=sse`: a JSON array, not SSE
    created: int | None = None  # a fixed timestamp (golden tests); None means now

    def timestamp(self) -> int:
        return self.created if self.created is not None else int(time.time())


def pick_kind(status: int, named: ErrorKind | None) -> ErrorKind:
    """A specific HTTP status decides; for catch-alls (400, 500, ...) the kind the body names wins."""
    if named is None or status in SPECIFIC_STATUSES:
        return kind_of_status(status) if status else "server"
    return named


SPECIFIC_STATUSES = (401, 403, 404, 413, 429, 503, 504, 529)


# --- stream events -------------------------------------------------------------------------------


@dataclass
class Start:
    id: str
    model: str
    usage: Usage | None = None


@dataclass
class BlockStart:
    """Opens block `index` (a decoder's own numbering); `part` is an empty Text, Thinking or ToolCall."""

    index: int
    part: Text | Thinking | ToolCall


@dataclass
class Delta:
    index: int
    kind: Literal["text", "thinking", "signature", "arguments"]
    text: str


@dataclass
class BlockStop:
    index: int


@dataclass
class Finish:
    stop_reason: StopReason
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass
class Done:
    pass


@dataclass
class Fail:
    error: ApiError


Event = Start | BlockStart | Delta | BlockStop | Finish | Done | Fail


class Loss(str):
    """A warning about something the provider needs back that the client cannot carry.

    Such a loss repeats on every turn of a conversation, so `translate` logs it once per
    conversation; each flow still lists it in its warnings.
    """


# --- small shared helpers --------------------------------------------------------------------------


def convert_id(upstream_id: str, prefix: str) -> str:
    """Re-prefix an upstream id for the client's format, keeping it traceable to the original."""
    if upstream_id.startswith(prefix):
        return upstream_id
    for known in ("msg_", "chatcmpl-", "resp_", "gen-"):
        if upstream_id.startswith(known):
            return prefix + upstream_id[len(known) :]
    return prefix + upstream_id


def loads_arguments(raw: str, warnings: list[str], name: str) -> dict[str, Any]:
    """Tool arguments arrive as JSON text in OpenAI formats; keep them, or warn when they are not an object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        warnings.append(
            f"tool call {name!r}: arguments are not valid JSON and were replaced by {{}}: {raw[:80]!r}"
        )
        return {}
    if not isinstance(value, dict):
        warnings.append(
            f"tool call {name!r}: arguments are JSON but not an object; wrapped as {{'value': ...}}"
        )
        return {"value": value}
    return value


def dumps(value: Any) -> str:
    """Compact JSON, as providers send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parse_data_url(url: str) -> Image:
    """`data:<type>;base64,<data>` becomes an inline image; anything else stays a URL."""
    if url.startswith("data:") and ";base64," in url:
        head, _, data = url.partition(";base64,")
        return Image(media_type=head[5:], data=data)
    return Image(url=url)


def data_url(image: Image) -> str:
    if image.data is not None:
        return f"data:{image.media_type or 'image/png'};base64,{image.data}"
    return image.url or ""


def fill_tool_names(messages: list[Message]) -> None:
    """Give each tool result the name of the call it answers (formats that answer by name need it)."""
    names: dict[str, str] = {}
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolCall):
                names[part.id] = part.name
            elif isinstance(part, ToolResult) and part.name is None:
                part.name = names.get(part.call_id)


EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}


def effort_of(reasoning: Reasoning) -> str:
    if reasoning.effort:
        return reasoning.effort
    budget = reasoning.budget_tokens or EFFORT_BUDGET["medium"]
    if budget < 4096:
        return "low"
    return "medium" if budget < 16384 else "high"


def budget_of(reasoning: Reasoning) -> int:
    if reasoning.budget_tokens:
        return reasoning.budget_tokens
    return EFFORT_BUDGET.get(reasoning.effort or "medium", EFFORT_BUDGET["medium"])
