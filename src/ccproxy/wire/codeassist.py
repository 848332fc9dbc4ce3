"""The Code Assist envelope: gemini-cli's wire format when it is logged in with a Google account.

gemini-cli then calls `cloudcode-pa.googleapis.com/v1internal:<method>` instead of the public Gemini
API. The body is a Gemini request one level down, `{"model", "project", "user_prompt_id",
"request": {contents, systemInstruction, tools, generationConfig, ...}}`, and every answer (each SSE
event too) is a Gemini response one level down, `{"response": {...}, "traceId"}`. Errors are
Google's usual `{"error": {...}}`, unwrapped. These pure functions unwrap and wrap; everything that
reads a flow (answers, session analysis, lint, telemetry) calls `unwrap_request` / `unwrap_response`
so it sees the Gemini inside. The envelope is a transform *source* only: ccproxy never sends
translated traffic to Code Assist (see docs/lightllm.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ccproxy.wire import gemini
from ccproxy.wire.gemini_stream import GeminiDecoder, GeminiEncoder
from ccproxy.wire.neutral import ClientOptions, Event, Request, Response
from ccproxy.wire.sse import SSE, encode

FORMAT = "code_assist"
HOST = "cloudcode-pa.googleapis.com"
#: `/v1internal:generateContent`, `:streamGenerateContent`, `:countTokens`, `:loadCodeAssist`, ...
_PATH = re.compile(r"^(?P<prefix>.*?)/(?P<ver>v1internal):(?P<method>[A-Za-z]+)$")
GENERATE = ("generateContent", "streamGenerateContent")
#: Envelope keys around the inner request; anything else at the top level is the client's own.
ENVELOPE_KEYS = ("model", "project", "user_prompt_id", "request")


@dataclass(frozen=True)
class Call:
    """A Code Assist path: its API version and method (`generateContent`, `countTokens`, ...)."""

    version: str
    method: str

    @property
    def generates(self) -> bool:
        return self.method in GENERATE

    @property
    def streaming(self) -> bool:
        return self.method == "streamGenerateContent"


def call_of(path: str) -> Call | None:
    """Classify a request path (query ignored) as a Code Assist call, or None."""
    m = _PATH.match(path.split("?", 1)[0].rstrip("/"))
    return Call(m["ver"], m["method"]) if m else None


def is_request(doc: Any) -> bool:
    """A Code Assist request envelope: a `request` object holding Gemini `contents` (or countTokens' model)."""
    inner = doc.get("request") if isinstance(doc, dict) else None
    return isinstance(inner, dict) and ("contents" in inner or "model" in inner) and "contents" not in doc


def unwrap_request(doc: Any) -> Any:
    """The Gemini request inside an envelope; any other document unchanged."""
    return doc["request"] if is_request(doc) else doc


def request_model(doc: Any) -> str | None:
    """The model an envelope names (countTokens names it inside, as `models/<name>`)."""
    if not is_request(doc):
        return None
    model = doc.get("model") or doc["request"].get("model")
    return str(model).removeprefix("models/") if model else None


def wrap_request(inner: dict[str, Any], model: str, project: str | None = None,
                 user_prompt_id: str | None = None) -> dict[str, Any]:
    """A Gemini request in the envelope, as gemini-cli writes it (used by tests and fixtures)."""
    out: dict[str, Any] = {"model": model}
    if project is not None:
        out["project"] = project
    if user_prompt_id is not None:
        out["user_prompt_id"] = user_prompt_id
    out["request"] = inner
    return out


def is_response(doc: Any) -> bool:
    """A Code Assist answer (or stream event): a `response` object around a Gemini response."""
    inner = doc.get("response") if isinstance(doc, dict) else None
    return isinstance(inner, dict) and "type" not in doc and (
        "candidates" in inner or "usageMetadata" in inner or "promptFeedback" in inner
    )


def unwrap_response(doc: Any) -> Any:
    """The Gemini response inside an envelope (the trace id dropped); any other document unchanged."""
    return doc["response"] if is_response(doc) else doc


def wrap_response(inner: dict[str, Any], trace_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"response": inner}
    if trace_id:
        out["traceId"] = trace_id
    return out


def unwrap(doc: Any) -> Any:
    """Whichever side of the envelope a document is, its Gemini inside; anything else unchanged."""
    return unwrap_response(unwrap_request(doc))


# -- the translator's codec (source side only) ----------------------------------------------------


def parse_request(body: dict[str, Any], warnings: list[str]) -> Request:
    request = gemini.parse_request(unwrap_request(body), warnings)
    request.model = request_model(body) or ""
    return request


def build_request(req: Request, warnings: list[str]) -> dict[str, Any]:
    """Refused: ccproxy sends no translated traffic to Code Assist as if it were gemini-cli."""
    raise ValueError("Code Assist is not a destination format: route to a Gemini API provider instead")


def parse_response(body: dict[str, Any], warnings: list[str]) -> Response:
    return gemini.parse_response(unwrap_response(body), warnings)


def build_response(resp: Response, warnings: list[str], options: ClientOptions) -> dict[str, Any]:
    return wrap_response(gemini.build_response(resp, warnings, options))


class CodeAssistDecoder(GeminiDecoder):
    """Gemini's stream decoder, one envelope down."""

    def feed(self, sse: SSE) -> list[Event]:
        if not sse.data or self.over:
            return super().feed(sse)
        doc = sse.json()
        return super().feed(SSE(sse.event, json.dumps(unwrap_response(doc))) if is_response(doc) else sse)


class CodeAssistEncoder(GeminiEncoder):
    """Gemini's stream encoder; each event's data wrapped as `{"response": ...}`, errors left bare."""

    def encode(self, event: Event) -> bytes:
        raw = super().encode(event)
        if not raw:
            return raw
        doc = json.loads(raw.decode().removeprefix("data: "))
        return encode(wrap_response(doc) if "error" not in doc else doc)
