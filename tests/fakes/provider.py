"""A fake LLM provider on 127.0.0.1: Anthropic Messages, OpenAI Chat and Responses, Gemini.

Behaviour is steered by the request's model name (so it works through any client):
  ...-error-500 / -error-429 / -error-400  answer that status with the format's error JSON
  ...-reset        close the connection without answering
  ...-hang         answer nothing until the server stops (bounded by `hang_seconds`)
  ...-cut          stream a few events, then close the connection mid-stream
  ...-stall        (Anthropic) stream a few events, then go silent (bounded by `hang_seconds`)
  ...-slowbody     (not streamed) send the headers and half the JSON body, then go silent (bounded
                   by `hang_seconds`), then reset
  ...-halfbody     (not streamed) send the headers and half the JSON body, then reset
  ...-capacity     no capacity: Gemini 429 RESOURCE_EXHAUSTED (MODEL_CAPACITY_EXHAUSTED), Anthropic 529
                   overloaded_error, OpenAI 503 server_is_overloaded; `...-capacity-503` is Gemini's 503
                   UNAVAILABLE. `capacity_delay` (seconds) adds Gemini's RetryInfo / a `retry-after` header
  ...-fenced       answers a JSON commit message inside a markdown code fence (FENCED)
  ...-flaky        answers like `-capacity` the first `flaky_failures` times per model, then normally
The Code Assist API (`/v1internal:<method>`, gemini-cli logged in with Google) answers the Gemini
endpoint's answers wrapped as `{"response": ..., "traceId"}`, plus `countTokens` and `loadCodeAssist`.
A request that declares tools gets a tool call back unless its last message is a tool result.
Attributes (`required_token`, `sse_events`, `sse_delay`, `answer_size`, `cache_write_tokens`) tune it for auth
tests and bench. Every answer (429s included) carries the rate-limit headers the real APIs send, by their real names:
`anthropic-ratelimit-unified-*` on Anthropic, `x-ratelimit-*` on OpenAI; each model request spends
`quota_step` of the 5-hour window (`quota_utilization`, a fraction, as Anthropic sends it).

Like the real APIs, the Chat and Responses endpoints refuse a reasoning setting for a non-reasoning
model (`gpt-4o`, `gpt-4.1`: 400 `Unsupported parameter`), the Gemini endpoint signs each function call (`thoughtSignature`) and, for
gemini-3 models, refuses a follow-up turn whose call lost the signature it issued; the Anthropic
endpoint with thinking enabled answers with a signed thinking block and refuses a tool loop whose
assistant turn lost it (`signed` records what was issued).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import websocket as fake_websocket

FENCED = '```json\n{"type": "feat", "scope": "wire", "subject": "read the Code Assist envelope"}\n```'
CODE_ASSIST_PATH = re.compile(r"^/v1internal:([A-Za-z]+)$")
GEMINI_PATH = re.compile(r"^/(?:v1beta|v1|v1alpha)/models/([^/:]+):(generateContent|streamGenerateContent)$")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def credential(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        for name in ("x-api-key", "x-goog-api-key"):
            if name in self.headers:
                return self.headers[name]
        key = parse_qs(urlsplit(self.path).query).get("key")
        return key[0] if key else None


@dataclass
class Answer:
    """What the fake says: text and/or one tool call, plus token counts."""

    text: str
    tool: tuple[str, dict[str, Any]] | None
    input_tokens: int
    output_tokens: int


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text) or [text]


class FakeProvider:
    """Start with `start()`; `url` is its base URL; every request lands in `requests`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[RecordedRequest] = []
        self.required_token: str | None = None
        self.sse_events: int | None = None
        self.sse_delay: float = 0.0
        self.answer_size: int | None = None
        self.cache_write_tokens = 0  # prompt-cache writes reported by the Anthropic and Chat endpoints
        self.hang_seconds: float = 30.0
        self.capacity_delay: float | None = None
        self.flaky_failures = 1
        self.flaky_seen: dict[str, int] = {}
        self.gate: threading.Event | None = None  # set: an Anthropic text stream pauses after two words until it is set
        self.quota_utilization = 0.1  # the 5h window's spent fraction, as the next answer reports it
        self.quota_step = 0.01  # what each model request adds to it
        self.quota_reset = int(time.time()) + 3 * 3600  # when the fake's 5h window reopens (epoch seconds)
        self.signed: dict[str, str] = {}  # signature issued -> the thinking text / function name it signs
        self.ws_received: list[str | bytes] = []  # messages its Responses WebSocket got (tests/fakes/websocket.py)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = _Server((host, port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.ws_received.clear()
        self.required_token = None
        self.sse_events = None
        self.sse_delay = 0.0
        self.answer_size = None
        self.capacity_delay = None
        self.flaky_failures = 1
        self.flaky_seen.clear()
        self.quota_utilization, self.quota_step = 0.1, 0.01
        self.gate = None
        self.cache_write_tokens = 0
        self.signed.clear()

    def sign(self, what: str) -> str:
        """A fresh signature for `what` (thinking text or function name), remembered for the check."""
        signature = base64.b64encode(os.urandom(48)).decode()
        with self._lock:
            self.signed[signature] = what
        return signature

    def refusal(self, fmt: str, model: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The 400 body the real API sends when a turn lost a signature it issued, else None."""
        if fmt == "gemini" and (message := _gemini_refusal(self, model, body)):
            return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
        if fmt == "anthropic" and (message := _anthropic_refusal(self, body)):
            return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        if fmt in ("openai", "responses") and (param := _reasoning_refusal(fmt, model, body)):
            return {"error": {
                "message": f"Unsupported parameter: '{param}' is not supported with this model.",
                "type": "invalid_request_error", "param": param, "code": "unsupported_parameter",
            }}
        return None

    def answer_for(self, body: dict[str, Any], fmt: str) -> Answer:
        prompt = json.dumps(body)
        tools = body.get("tools") or []
        names = [_tool_name(t, fmt) for t in tools]
        names = [n for n in names if n]
        if names and not _ends_with_tool_result(body, fmt):
            return Answer("", (names[0], {"location": "Paris"}), len(prompt) // 4, 12)
        if self.answer_size:
            text = ("lorem ipsum " * (self.answer_size // 12 + 1))[: self.answer_size]
        elif self.sse_events:
            text = "".join(f"w{i} " for i in range(self.sse_events))
        elif names:
            text = "The weather in Paris is sunny."
        else:
            text = "Hello from the fake provider."
        return Answer(text, None, len(prompt) // 4, max(1, len(text) // 4))


def _tool_name(tool: Any, fmt: str) -> str | None:
    if not isinstance(tool, dict):
        return None
    if fmt == "gemini":
        decls = tool.get("functionDeclarations") or tool.get("function_declarations") or []
        return decls[0].get("name") if decls else None
    if "function" in tool and isinstance(tool["function"], dict):
        return tool["function"].get("name")
    return tool.get("name")


def _ends_with_tool_result(body: dict[str, Any], fmt: str) -> bool:
    if fmt == "anthropic":
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs else {}
        content = last.get("content")
        return isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
    if fmt == "openai":
        msgs = body.get("messages") or []
        return bool(msgs) and msgs[-1].get("role") == "tool"
    if fmt == "responses":
        items = body.get("input")
        return isinstance(items, list) and bool(items) and items[-1].get("type") == "function_call_output"
    if fmt == "gemini":
        contents = body.get("contents") or []
        parts = contents[-1].get("parts", []) if contents else []
        return any("functionResponse" in p or "function_response" in p for p in parts)
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing --------------------------------------------------------------------------
    def _read(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        header_list = list(self.headers.items())
        rec = RecordedRequest(
            self.command, self.path, {k.lower(): v for k, v in header_list}, header_list, body
        )
        self.fake.record(rec)
        return rec

    fmt: str | None = None  # the wire format of the request being answered (its rate-limit headers)

    def _ratelimit_headers(self, status: int) -> None:
        fake = self.fake
        if self.fmt == "anthropic":
            used = min(1.0, fake.quota_utilization)
            rejected = status == 429
            state = "rejected" if rejected else ("allowed_warning" if used >= 0.8 else "allowed")
            for name, value in (
                ("anthropic-ratelimit-unified-status", state),
                ("anthropic-ratelimit-unified-5h-status", state),
                ("anthropic-ratelimit-unified-5h-reset", str(fake.quota_reset)),
                ("anthropic-ratelimit-unified-5h-utilization", f"{used:.4f}"),
                ("anthropic-ratelimit-unified-7d-status", "allowed"),
                ("anthropic-ratelimit-unified-7d-reset", str(fake.quota_reset + 4 * 86400)),
                ("anthropic-ratelimit-unified-7d-utilization", f"{used / 5:.4f}"),
                ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
                ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
                ("anthropic-ratelimit-unified-reset", str(fake.quota_reset)),
            ):
                self.send_header(name, value)
            if rejected:
                self.send_header("retry-after", "120")
        elif self.fmt in ("openai", "responses"):
            limit = 10000
            remaining = int(limit * (1 - min(1.0, fake.quota_utilization)))
            for name, value in (
                ("x-ratelimit-limit-requests", "500"),
                ("x-ratelimit-remaining-requests", "0" if status == 429 else "499"),
                ("x-ratelimit-reset-requests", "120ms"),
                ("x-ratelimit-limit-tokens", str(limit)),
                ("x-ratelimit-remaining-tokens", str(remaining)),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ):
                self.send_header(name, value)

    body_fault: str | None = None  # "slowbody" / "halfbody": the JSON answer's body breaks half way
    envelope = False  # a Code Assist call: every Gemini answer (JSON or SSE event) goes out wrapped

    def _wrap(self, doc: Any) -> Any:
        if self.envelope and isinstance(doc, dict) and "error" not in doc:
            return {"response": doc, "traceId": uuid.uuid4().hex[:16]}
        return doc

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(self._wrap(doc)).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self._ratelimit_headers(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.body_fault:
            self._broken_body(data)
            return
        self.wfile.write(data)

    def _broken_body(self, data: bytes) -> None:
        self.wfile.flush()  # the headers arrive on their own
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        if self.body_fault == "slowbody":
            self.fake.stopping.wait(self.fake.hang_seconds)
        self._reset()

    def _sse_start(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self._ratelimit_headers(200)
        self.end_headers()

    def _sse(self, data: Any, event: str | None = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(self._wrap(data))
        block = (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"
        raw = block.encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()
        if self.fake.sse_delay:
            time.sleep(self.fake.sse_delay)

    def _sse_end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _reset(self) -> None:
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    # -- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.fmt = None
        rec = self._read()
        path = urlsplit(self.path).path
        if path.endswith("/responses") and fake_websocket.is_upgrade(rec.headers):
            self.close_connection = True
            fake_websocket.serve(self.fake, rec, self.connection, self.rfile)
        elif path.endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    def do_POST(self) -> None:
        self.body_fault = None  # one handler serves every request of a keep-alive connection
        self.envelope = False
        self.fmt = None
        rec = self._read()
        path = urlsplit(rec.path).path
        ca = CODE_ASSIST_PATH.match(path)
        if ca and ca.group(1) not in ("generateContent", "streamGenerateContent"):
            self._code_assist_setup(ca.group(1), rec)
            return
        if ca:
            fmt = "gemini"
            self.envelope = True
        elif path.endswith("/v1/messages"):
            fmt = "anthropic"
        elif path.endswith("/chat/completions"):
            fmt = "openai"
        elif path.endswith("/responses"):
            fmt = "responses"
        elif GEMINI_PATH.match(path):
            fmt = "gemini"
        else:
            self._json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
            return
        self.fmt = fmt
        with self.fake._lock:
            self.fake.quota_utilization += self.fake.quota_step
        try:
            body = json.loads(rec.body or b"{}")
        except ValueError:
            self._error(fmt, 400, "request body is not valid JSON")
            return
        if self.fake.required_token is not None and rec.credential() != self.fake.required_token:
            self._error(fmt, 401, "invalid x-api-key")
            return
        gem = GEMINI_PATH.match(path)
        model = gem.group(1) if gem else str(body.get("model", "fake-model"))
        if ca:
            body = body.get("request") or {}
        if self._capacity(fmt, model):
            return
        self.body_fault = next((f for f in ("slowbody", "halfbody") if model.endswith(f)), None)
        for code in ("500", "429", "400", "503"):
            if model.endswith(f"error-{code}"):
                self._error(fmt, int(code), f"fake provider error {code}")
                return
        if model.endswith("reset"):
            self._reset()
            return
        if model.endswith("hang"):
            self.fake.stopping.wait(self.fake.hang_seconds)
            self._reset()
            return
        stream = bool(body.get("stream")) or bool(gem and gem.group(2) == "streamGenerateContent") or bool(
            ca and ca.group(1) == "streamGenerateContent"
        )
        answer = self.fake.answer_for(body, fmt)
        if model.endswith("-fenced"):
            answer = Answer(FENCED, None, answer.input_tokens, answer.output_tokens)
        self.stall = model.endswith("stall")
        cut = model.endswith("cut") or self.stall
        if refusal := self.fake.refusal(fmt, model, body):
            self._json(400, refusal)
            return
        handler = getattr(self, f"_{fmt}")
        handler(body, model, answer, stream, cut)

    def _code_assist_setup(self, method: str, rec: RecordedRequest) -> None:
        """Code Assist's other calls: what gemini-cli needs to start, and countTokens."""
        body = rec.json or {}
        if method == "countTokens":
            self._json(200, {"totalTokens": len(json.dumps(body.get("request") or {})) // 4})
        elif method == "loadCodeAssist":
            self._json(200, {"currentTier": {"id": "free-tier", "name": "Gemini Code Assist for individuals"},
                             "allowedTiers": [{"id": "free-tier", "isDefault": True}],
                             "cloudaicompanionProject": "fake-project-0001"})
        elif method == "onboardUser":
            self._json(200, {"done": True, "response": {"cloudaicompanionProject": {"id": "fake-project-0001"}}})
        else:
            self._json(404, {"error": {"code": 404, "message": f"no method {method}", "status": "NOT_FOUND"}})

    def _capacity(self, fmt: str, model: str) -> bool:
        """Answer a no-capacity error for `-capacity` models (and `-flaky` ones at first); False otherwise."""
        if model.endswith("-flaky"):
            seen = self.fake.flaky_seen.get(model, 0)
            self.fake.flaky_seen[model] = seen + 1
            if seen >= self.fake.flaky_failures:
                return False
        elif not model.endswith(("-capacity", "-capacity-503")):
            return False
        delay = self.fake.capacity_delay
        headers = {"retry-after": f"{delay:g}"} if delay is not None and fmt != "gemini" else {}
        if fmt == "gemini" and model.endswith("-503"):
            doc: Any = {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                                  "status": "UNAVAILABLE"}}
            status = 503
        elif fmt == "gemini":
            details: list[dict[str, Any]] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                               "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "googleapis.com",
                                               "metadata": {"model": model}}]
            if delay is not None:
                details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay:g}s"})
            doc = {"error": {"code": 429, "message": f"No capacity available for model {model} on the server",
                             "status": "RESOURCE_EXHAUSTED", "details": details}}
            status = 429
        elif fmt == "anthropic":
            doc, status = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529
        else:
            doc = {"error": {"message": "The server is overloaded or not ready yet.", "type": "server_error",
                             "param": None, "code": "server_is_overloaded"}}
            status = 503
        self._json(status, doc, headers)
        return True

    def _error(self, fmt: str, status: int, message: str) -> None:
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}.get(
            status, "api_error"
        )
        if fmt == "anthropic":
            doc: Any = {"type": "error", "error": {"type": kind, "message": message}}
        elif fmt == "gemini":
            doc = {"error": {"code": status, "message": message, "status": "INTERNAL"}}
        else:
            doc = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        self._json(status, doc)

    # -- Anthropic Messages ----------------------------------------------------------------
    def _anthropic(self, body: dict[str, Any], model: str, a: Answer, stream: bool, cut: bool) -> None:
        if _thinking_on(body):
            self._anthropic_thinking(model, a, stream)
            return
        msg_id = f"msg_{uuid.uuid4().hex[:24]}"
        usage = {
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "cache_creation_input_tokens": self.fake.cache_write_tokens,
            "cache_read_input_tokens": 3,
        }
        stop = "tool_use" if a.tool else "end_turn"
        content: list[dict[str, Any]] = []
        if a.tool:
            content.append({"type": "tool_use", "id": "toolu_fake01", "name": a.tool[0], "input": a.tool[1]})
        else:
            content.append({"type": "text", "text": a.text})
        if not stream:
            self._json(200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop, "stop_sequence": None, "usage": usage,
            })
            return
        self._sse_start()
        start_usage = {**usage, "output_tokens": 1}
        self._sse({"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}}, "message_start")
        if a.tool:
            self._sse({"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_fake01", "name": a.tool[0], "input": {}}}, "content_block_start")
            args = json.dumps(a.tool[1])
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                self._sse({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "input_json_delta", "partial_json": piece}}, "content_block_delta")
        else:
            self._sse({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "text", "text": ""}}, "content_block_start")
            for i, word in enumerate(_words(a.text)):
                if i == 2 and self.fake.gate is not None:
                    self.fake.gate.wait(self.fake.hang_seconds)
                if cut and i == 2:
                    if self.stall:
                        self.fake.stopping.wait(self.fake.hang_seconds)
                    self._reset()
                    return
                self._sse({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": word}}, "content_block_delta")
        self._sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self._sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                   "usage": {"output_tokens": a.output_tokens}}, "message_delta")
        self._sse({"type": "message_stop"}, "message_stop")
        self._sse_end()

    def _anthropic_thinking(self, model: str, a: Answer, stream: bool) -> None:
        """Thinking enabled: a signed thinking block, then the tool call or the text."""
        signature = self.fake.sign(THINKING_TEXT)
        thinking = {"type": "thinking", "thinking": THINKING_TEXT, "signature": signature}
        if a.tool:
            block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}",
                                     "name": a.tool[0], "input": a.tool[1]}
        else:
            block = {"type": "text", "text": a.text}
        usage = {"input_tokens": a.input_tokens, "output_tokens": a.output_tokens + 10,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        message = {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
                   "content": [thinking, block], "stop_reason": "tool_use" if a.tool else "end_turn",
                   "stop_sequence": None, "usage": usage}
        if not stream:
            self._json(200, message)
            return
        self._sse_start()
        self._sse({"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                         "usage": {**usage, "output_tokens": 1}}}, "message_start")
        deltas = [{"type": "thinking_delta", "thinking": THINKING_TEXT},
                  {"type": "signature_delta", "signature": signature}]
        if a.tool:
            deltas2 = [{"type": "input_json_delta", "partial_json": json.dumps(a.tool[1])}]
            start2: dict[str, Any] = {**block, "input": {}}
        else:
            deltas2 = [{"type": "text_delta", "text": w} for w in _words(a.text)]
            start2 = {"type": "text", "text": ""}
        for index, (start, deltas_of) in enumerate(
            [({"type": "thinking", "thinking": "", "signature": ""}, deltas), (start2, deltas2)]
        ):
            self._sse({"type": "content_block_start", "index": index, "content_block": start}, "content_block_start")
            for delta in deltas_of:
                self._sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            self._sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        self._sse({"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                   "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta")
        self._sse({"type": "message_stop"}, "message_stop")
        self._sse_end()

    # -- OpenAI Chat Completions -----------------------------------------------------------
    def _openai(self, body: dict[str, Any], model: str, a: Answer, stream: bool, cut: bool) -> None:
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:20]}", int(time.time())
        usage = {
            "prompt_tokens": a.input_tokens, "completion_tokens": a.output_tokens,
            "total_tokens": a.input_tokens + a.output_tokens, "prompt_tokens_details": {
                "cached_tokens": 3, "cache_write_tokens": self.fake.cache_write_tokens},
        }
        finish = "tool_calls" if a.tool else "stop"
        call = {"id": "call_fake01", "type": "function",
                "function": {"name": a.tool[0], "arguments": json.dumps(a.tool[1])}} if a.tool else None
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": None if a.tool else a.text, "refusal": None}
            if call:
                message["tool_calls"] = [call]
            self._json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
            })
            return

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

        self._sse_start()
        self._sse(chunk({"role": "assistant", "content": ""}))
        if call:
            args = call["function"]["arguments"]
            self._sse(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                             "function": {"name": a.tool[0] if a.tool else "", "arguments": ""}}]}))
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                self._sse(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            for i, word in enumerate(_words(a.text)):
                if i == 2 and self.fake.gate is not None:
                    self.fake.gate.wait(self.fake.hang_seconds)
                if cut and i == 2:
                    self._reset()
                    return
                self._sse(chunk({"content": word}))
        self._sse(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            self._sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": usage})
        self._sse("[DONE]")
        self._sse_end()

    # -- OpenAI Responses ------------------------------------------------------------------
    def _responses(self, body: dict[str, Any], model: str, a: Answer, stream: bool, cut: bool) -> None:
        rid, created = f"resp_{uuid.uuid4().hex[:24]}", int(time.time())
        usage = {
            "input_tokens": a.input_tokens, "output_tokens": a.output_tokens,
            "total_tokens": a.input_tokens + a.output_tokens,
            "input_tokens_details": {"cached_tokens": 3}, "output_tokens_details": {"reasoning_tokens": 0},
        }
        if a.tool:
            item: dict[str, Any] = {"type": "function_call", "id": "fc_fake01", "call_id": "call_fake01",
                                    "name": a.tool[0], "arguments": json.dumps(a.tool[1]), "status": "completed"}
        else:
            item = {"type": "message", "id": "msg_fake01", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": a.text, "annotations": []}]}

        def response(status: str, output: list[Any], with_usage: bool) -> dict[str, Any]:
            return {"id": rid, "object": "response", "created_at": created, "status": status, "model": model,
                    "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                    "usage": usage if with_usage else None, "error": None, "incomplete_details": None}

        if not stream:
            self._json(200, response("completed", [item], True))
            return
        seq = iter(range(10_000))
        self._sse_start()
        self._sse({"type": "response.created", "sequence_number": next(seq),
                   "response": response("in_progress", [], False)}, "response.created")
        if a.tool:
            added = {**item, "arguments": "", "status": "in_progress"}
            self._sse({"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
                       "item": added}, "response.output_item.added")
            self._sse({"type": "response.function_call_arguments.delta", "sequence_number": next(seq),
                       "item_id": item["id"], "output_index": 0, "delta": item["arguments"]},
                      "response.function_call_arguments.delta")
            self._sse({"type": "response.function_call_arguments.done", "sequence_number": next(seq),
                       "item_id": item["id"], "output_index": 0, "arguments": item["arguments"]},
                      "response.function_call_arguments.done")
        else:
            added = {**item, "status": "in_progress", "content": []}
            self._sse({"type": "response.output_item.added", "sequence_number": next(seq), "output_index": 0,
                       "item": added}, "response.output_item.added")
            part = {"type": "output_text", "text": "", "annotations": []}
            self._sse({"type": "response.content_part.added", "sequence_number": next(seq), "item_id": item["id"],
                       "output_index": 0, "content_index": 0, "part": part}, "response.content_part.added")
            for i, word in enumerate(_words(a.text)):
                if i == 2 and self.fake.gate is not None:
                    self.fake.gate.wait(self.fake.hang_seconds)
                if cut and i == 2:
                    self._reset()
                    return
                self._sse({"type": "response.output_text.delta", "sequence_number": next(seq),
                           "item_id": item["id"], "output_index": 0, "content_index": 0, "delta": word,
                           "logprobs": []}, "response.output_text.delta")
            self._sse({"type": "response.output_text.done", "sequence_number": next(seq), "item_id": item["id"],
                       "output_index": 0, "content_index": 0, "text": a.text, "logprobs": []},
                      "response.output_text.done")
            self._sse({"type": "response.content_part.done", "sequence_number": next(seq), "item_id": item["id"],
                       "output_index": 0, "content_index": 0, "part": {**part, "text": a.text}},
                      "response.content_part.done")
        self._sse({"type": "response.output_item.done", "sequence_number": next(seq), "output_index": 0,
                   "item": item}, "response.output_item.done")
        self._sse({"type": "response.completed", "sequence_number": next(seq),
                   "response": response("completed", [item], True)}, "response.completed")
        self._sse_end()

    # -- Gemini generateContent ------------------------------------------------------------
    def _gemini(self, body: dict[str, Any], model: str, a: Answer, stream: bool, cut: bool) -> None:
        usage = {"promptTokenCount": a.input_tokens, "candidatesTokenCount": a.output_tokens,
                 "totalTokenCount": a.input_tokens + a.output_tokens, "cachedContentTokenCount": 3}

        def candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
            cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            return cand

        parts: list[dict[str, Any]] = [{"functionCall": {"name": a.tool[0], "args": a.tool[1]}}] if a.tool else [{"text": a.text}]
        if a.tool:
            parts[0]["thoughtSignature"] = self.fake.sign(a.tool[0])
        if not stream:
            self._json(200, {"candidates": [candidate(parts, "STOP")], "usageMetadata": usage,
                             "modelVersion": model, "responseId": uuid.uuid4().hex[:16]})
            return
        self._sse_start()
        if a.tool:
            self._sse({"candidates": [candidate(parts, "STOP")], "usageMetadata": usage, "modelVersion": model})
        else:
            words = _words(a.text)
            for i, word in enumerate(words):
                if cut and i == 2:
                    self._reset()
                    return
                last = i == len(words) - 1
                doc: dict[str, Any] = {"candidates": [candidate([{"text": word}], "STOP" if last else None)],
                                       "modelVersion": model}
                if last:
                    doc["usageMetadata"] = usage
                self._sse(doc)
        self._sse_end()


# -- signatures: what the real APIs issue and insist on getting back -----------------------------

THINKING_TEXT = "The user wants the weather, so I call the tool."
GEMINI_SKIP = "skip_thought_signature_validator"  # Google's documented value for foreign calls


def _thinking_on(body: dict[str, Any]) -> bool:
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


def standard_b64(signature: str) -> str:
    """google-genai sends signature bytes back base64url-encoded; the API reads either alphabet."""
    return signature.replace("-", "+").replace("_", "/")


def _gemini_refusal(fake: FakeProvider, model: str, body: dict[str, Any]) -> str | None:
    """Gemini 3: the first call of each model step since the user last spoke needs its signature."""
    found = re.search(r"gemini-(\d+)", model)
    if not found or int(found[1]) < 3:
        return None
    contents = body.get("contents") or []
    for position, content in reversed(list(enumerate(contents))):
        parts = content.get("parts") or []
        if content.get("role") != "model":
            if any("functionResponse" not in p and "function_response" not in p for p in parts):
                return None
            continue
        call = next((p for p in parts if "functionCall" in p or "function_call" in p), None)
        if call is None:
            continue
        signature = call.get("thoughtSignature") or call.get("thought_signature") or ""
        if signature != GEMINI_SKIP and standard_b64(signature) not in fake.signed:
            name = (call.get("functionCall") or call.get("function_call") or {}).get("name")
            return (
                "Function call is missing a thought_signature in functionCall parts. This is required "
                "for tools to work correctly, and missing thought_signature may lead to degraded model "
                f"performance. Additional data, function call `default_api:{name}` , position {position + 1}. "
                "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None


#: Chat/Responses models without reasoning: OpenAI refuses any reasoning setting for them.
NON_REASONING = re.compile(r"^(gpt-4|gpt-3|chatgpt-)")


def _reasoning_refusal(fmt: str, model: str, body: dict[str, Any]) -> str | None:
    """The reasoning parameter a non-reasoning model refuses, as the real API names it."""
    if not NON_REASONING.match(model):
        return None
    if fmt == "openai" and "reasoning_effort" in body:
        return "reasoning_effort"
    if fmt == "responses" and "reasoning" in body:
        return "reasoning.effort"
    return None


def _anthropic_refusal(fake: FakeProvider, body: dict[str, Any]) -> str | None:
    """Thinking on, mid tool loop: the assistant turn with the calls must start with its signed thinking."""
    messages = body.get("messages") or []
    if not _thinking_on(body) or not messages or messages[-1].get("role") != "user":
        return None
    if not _ends_with_tool_result(body, "anthropic"):
        return None
    at = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    content = messages[at].get("content") if at is not None else None
    if not isinstance(content, list) or not any(b.get("type") == "tool_use" for b in content):
        return None
    first = content[0]
    if first.get("type") not in ("thinking", "redacted_thinking"):
        return (
            f"messages.{at}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must start "
            "with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). "
            "We recommend you include thinking blocks from previous turns. To avoid this requirement, "
            "disable `thinking`."
        )
    if first.get("type") == "thinking" and fake.signed.get(first.get("signature", "")) != first.get("thinking"):
        return f"messages.{at}.content.0: Invalid `signature` in `thinking` block"
    return None
