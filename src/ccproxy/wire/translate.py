"""The translator's front door: any format to any other through the neutral model.

Each format is written once in each direction (`parse_*` into neutral, `build_*` out of it), so
adding a format adds one module, not one per pair. Callers name formats by their config name:
`anthropic`, `openai` (Chat Completions), `openai_responses`, `gemini`, and, as a source only,
`code_assist` (gemini-cli's Code Assist envelope around Gemini, `wire/codeassist.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ccproxy.wire import anthropic, codeassist, gemini, openai_chat, openai_responses
from ccproxy.wire.anthropic_stream import AnthropicDecoder, AnthropicEncoder
from ccproxy.wire.gemini_stream import GeminiDecoder, GeminiEncoder
from ccproxy.wire.neutral import (
    ApiError,
    ClientOptions,
    Done,
    Event,
    Fail,
    Finish,
    Loss,
    Request,
    Response,
    Usage,
)
from ccproxy.wire.openai_chat_stream import ChatDecoder, ChatEncoder
from ccproxy.wire.openai_responses_stream import ResponsesDecoder, ResponsesEncoder
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.stream import Decoder, Encoder

log = logging.getLogger("ccproxy.wire")


class TranslationError(ValueError):
    """A body could not be read as its declared format (not JSON, or not the expected shape)."""


@dataclass(frozen=True)
class Codec:
    parse_request: Callable[[dict[str, Any], list[str]], Request]
    build_request: Callable[[Request, list[str]], dict[str, Any]]
    parse_response: Callable[[dict[str, Any], list[str]], Response]
    build_response: Callable[[Response, list[str], ClientOptions], dict[str, Any]]
    parse_error: Callable[[int, Any], ApiError]
    build_error: Callable[[ApiError], tuple[int, dict[str, Any]]]
    decoder: Callable[[list[str]], Decoder]
    encoder: Callable[[ClientOptions], Encoder]


CODECS: dict[str, Codec] = {
    "anthropic": Codec(
        anthropic.parse_request,
        anthropic.build_request,
        anthropic.parse_response,
        anthropic.build_response,
        anthropic.parse_error,
        anthropic.build_error,
        AnthropicDecoder,
        AnthropicEncoder,
    ),
    "openai": Codec(
        openai_chat.parse_request,
        openai_chat.build_request,
        openai_chat.parse_response,
        openai_chat.build_response,
        openai_chat.parse_error,
        openai_chat.build_error,
        ChatDecoder,
        ChatEncoder,
    ),
    "openai_responses": Codec(
        openai_responses.parse_request,
        openai_responses.build_request,
        openai_responses.parse_response,
        openai_responses.build_response,
        openai_responses.parse_error,
        openai_responses.build_error,
        ResponsesDecoder,
        ResponsesEncoder,
    ),
    "gemini": Codec(
        gemini.parse_request,
        gemini.build_request,
        gemini.parse_response,
        gemini.build_response,
        gemini.parse_error,
        gemini.build_error,
        GeminiDecoder,
        GeminiEncoder,
    ),
    codeassist.FORMAT: Codec(
        codeassist.parse_request,
        codeassist.build_request,
        codeassist.parse_response,
        codeassist.build_response,
        gemini.parse_error,
        gemini.build_error,
        codeassist.CodeAssistDecoder,
        codeassist.CodeAssistEncoder,
    ),
}


def _json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TranslationError(f"body is not JSON ({exc})") from None


@dataclass
class RequestTranslation:
    """The destination's body plus what the response side needs to know."""

    body: dict[str, Any]
    request: Request
    options: ClientOptions
    warnings: list[str] = field(default_factory=list)


def client_options(client: str, body: dict[str, Any]) -> ClientOptions:
    """What in the client's own request shapes the answer it expects back."""
    if client == "openai":
        return ClientOptions(include_usage=bool((body.get("stream_options") or {}).get("include_usage")))
    return ClientOptions()


def translate_request(
    raw: bytes | str,
    client: str,
    upstream: str,
    *,
    path_model: str | None = None,
    path_stream: bool = False,
    path_sse: bool = True,
    model: str | None = None,
) -> RequestTranslation:
    """Client body -> destination body.

    Gemini keeps model and streaming in the URL: pass them in (`path_sse` False means the client
    called `streamGenerateContent` without `alt=sse` and wants one JSON array back).
    """
    body = _json(raw)
    if not isinstance(body, dict):
        raise TranslationError("request body is not a JSON object")
    warnings: list[str] = []
    try:
        request = CODECS[client].parse_request(body, warnings)
    except (AttributeError, TypeError, KeyError) as exc:
        raise TranslationError(f"request is not valid {client} ({type(exc).__name__}: {exc})") from None
    options = client_options(client, body)
    if client in ("gemini", codeassist.FORMAT):  # streaming is the method's; Gemini's model is the path's
        request.model = path_model or request.model
        request.stream = path_stream and path_sse
        options = ClientOptions(json_array=path_stream and not path_sse)
    if model:
        request.model = model
    out = CODECS[upstream].build_request(request, warnings)
    log_losses(request, warnings, client, upstream)
    return RequestTranslation(out, request, options, warnings)


_LOGGED: OrderedDict[str, None] = OrderedDict()
_LOGGED_MAX = 4096


def conversation_key(request: Request) -> str:
    """Turns of one conversation share their system prompt and first user message."""
    first = next((m for m in request.messages if m.role == "user"), None)
    seed = repr((request.system, first.parts if first else None))
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


def log_losses(request: Request, warnings: list[str], client: str, upstream: str) -> None:
    """Log each `Loss` once per conversation: it recurs on every turn, and one line says it all."""
    for warning in warnings:
        if not isinstance(warning, Loss):
            continue
        conversation = conversation_key(request)
        key = f"{conversation}:{hashlib.sha256(warning.encode()).hexdigest()[:8]}"
        if key in _LOGGED:
            _LOGGED.move_to_end(key)
            continue
        _LOGGED[key] = None
        if len(_LOGGED) > _LOGGED_MAX:
            _LOGGED.popitem(last=False)
        log.warning("%s client -> %s (conversation %s): %s", client, upstream, conversation, warning)


def translate_response(
    raw: bytes | str, upstream: str, client: str, options: ClientOptions, warnings: list[str]
) -> tuple[Any, Usage]:
    """A complete (non-streamed) successful answer, upstream format -> client format."""
    body = _json(raw)
    if isinstance(body, list) and upstream == "gemini" and body:
        body = body[-1]
    if not isinstance(body, dict):
        raise TranslationError("response body is not a JSON object")
    try:
        response = CODECS[upstream].parse_response(body, warnings)
    except (AttributeError, TypeError, KeyError) as exc:
        raise TranslationError(f"response is not valid {upstream} ({type(exc).__name__}: {exc})") from None
    out = CODECS[client].build_response(response, warnings, options)
    return ([out] if options.json_array else out), response.usage


def translate_error(status: int, raw: bytes | str, upstream: str, client: str) -> tuple[int, dict[str, Any]]:
    """An upstream error body, whatever its shape, as the client format's error with the right status."""
    try:
        body: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        body = text.strip()[:500] or f"upstream answered HTTP {status} with no body"
    return CODECS[client].build_error(CODECS[upstream].parse_error(status, body))


def error_response(error: ApiError, client: str) -> tuple[int, dict[str, Any]]:
    """An error ccproxy itself raises, in the client's format."""
    return CODECS[client].build_error(error)


class StreamTranslator:
    """The per-chunk callable for a streamed answer: upstream SSE bytes in, client SSE bytes out.

    Called with b"" once when the upstream body ends; an answer that ended early gets the client
    format's error event instead of a silent stop. `cut` does the same when the transport broke.
    """

    def __init__(self, upstream: str, client: str, options: ClientOptions) -> None:
        self.warnings: list[str] = []
        self.reader = SSEReader()
        self.decoder = CODECS[upstream].decoder(self.warnings)
        self.encoder = CODECS[client].encoder(options)
        self.usage: Usage | None = None
        self.closed = False

    def __call__(self, chunk: bytes) -> bytes:
        if self.closed:
            return b""
        events: list[Event] = []
        try:
            for sse in self.reader.feed(chunk) if chunk else self.reader.flush():
                events += self.decoder.feed(sse)
            if not chunk:
                events += self.decoder.close()
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            message = f"ccproxy could not translate an upstream event ({type(exc).__name__}: {exc})"
            events.append(Fail(ApiError("server", message, 502)))
        return self._emit(events)

    def cut(self, message: str) -> bytes:
        """The upstream connection broke mid-answer: the client format's error event, once."""
        if self.closed:
            return b""
        return self._emit([Fail(ApiError("server", f"upstream stream broke: {message}", 502))])

    def _emit(self, events: list[Event]) -> bytes:
        out = bytearray()
        for event in events:
            if isinstance(event, Finish):
                self.usage = event.usage
            out += self.encoder.encode(event)
            if isinstance(event, Done | Fail):
                self.closed = True
                break
        return bytes(out)
