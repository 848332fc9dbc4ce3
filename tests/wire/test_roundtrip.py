"""Property tests: the neutral model survives a trip out to each format and back.

What a format cannot carry is normalised away explicitly (`portable_*`), so each test states exactly
which information each format keeps.
"""

from __future__ import annotations

import copy
import itertools
import json
import string
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ccproxy.wire.neutral import (
    BlockStart,
    BlockStop,
    ClientOptions,
    Delta,
    Done,
    Event,
    Finish,
    Image,
    Message,
    Part,
    Request,
    Response,
    Start,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Usage,
)
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.translate import CODECS

FORMATS = ("anthropic", "openai", "openai_responses", "gemini")
SAFE = string.ascii_letters + string.digits + " .,:;!?-_'\"\n"  # no braces: Gemini reads JSON-object results

texts = st.text(alphabet=SAFE, min_size=1, max_size=30).filter(lambda s: not s.startswith("Error: "))
names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
ids = st.from_regex(r"call_[a-f0-9]{8}", fullmatch=True)
json_values = st.one_of(
    st.integers(-1000, 1000), st.booleans(), st.none(), st.text(alphabet=SAFE, max_size=10)
)
arguments = st.dictionaries(names, json_values, max_size=3)
images = st.one_of(
    st.builds(
        Image,
        media_type=st.sampled_from(["image/png", "image/jpeg"]),
        data=st.from_regex(r"[A-Za-z0-9+/]{4,40}={0,2}", fullmatch=True),
    ),
    st.builds(Image, url=st.from_regex(r"https://example\.com/[a-z]{1,8}\.png", fullmatch=True)),
)
tools = st.builds(
    Tool,
    name=names,
    description=st.one_of(st.none(), texts),
    parameters=st.builds(
        lambda keys: {"type": "object", "properties": {k: {"type": "string"} for k in keys}},
        st.lists(names, max_size=3),
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    declared = draw(st.lists(tools, max_size=3, unique_by=lambda t: t.name))
    callable_names = [t.name for t in declared] or ["lookup"]
    messages: list[Message] = []
    pending: list[ToolCall] = []
    turns = draw(st.integers(1, 4))
    for turn in range(turns):
        parts: list[Part] = [ToolResult(c.id, [Text(draw(texts))]) for c in pending]
        if not pending or draw(st.booleans()):
            parts.append(Text(draw(texts)))
            parts += draw(st.lists(images, max_size=2))
        messages.append(Message("user", parts))
        if turn == turns - 1:
            break
        reply: list[Part] = [Text(draw(texts))] if draw(st.booleans()) else []
        call_ids = draw(st.lists(ids, max_size=2, unique=True))
        pending = [ToolCall(i, draw(st.sampled_from(callable_names)), draw(arguments)) for i in call_ids]
        messages.append(Message("assistant", reply + list(pending) or [Text(draw(texts))]))
    choice = None
    if declared and draw(st.booleans()):
        mode = draw(st.sampled_from(["auto", "none", "any", "tool"]))
        choice = ToolChoice(mode, declared[0].name if mode == "tool" else None)  # type: ignore[arg-type]
    return Request(
        model=draw(names),
        messages=messages,
        system=draw(st.lists(texts, max_size=1)),
        tools=declared,
        tool_choice=choice,
        max_tokens=draw(st.integers(1, 100_000)),
        temperature=draw(st.one_of(st.none(), st.floats(0, 2, allow_nan=False))),
        top_p=draw(st.one_of(st.none(), st.floats(0, 1, allow_nan=False))),
        stop=draw(st.lists(texts, max_size=3)),
        stream=draw(st.booleans()),
    )


def merged(messages: list[Message]) -> list[Message]:
    """Consecutive same-role messages are one turn in every format."""
    out: list[Message] = []
    for message in messages:
        if out and out[-1].role == message.role:
            out[-1] = Message(message.role, out[-1].parts + message.parts)
        else:
            out.append(Message(message.role, list(message.parts)))
    return out


def portable_request(req: Request, fmt: str) -> Request:
    req = copy.deepcopy(req)
    for message in req.messages:
        for i, part in enumerate(message.parts):
            if isinstance(part, ToolResult):
                message.parts[i] = replace(part, name=None)
            elif isinstance(part, Image) and part.url is not None:
                message.parts[i] = Image(url=part.url)
    req.messages = merged(req.messages)
    req.tools = [replace(t, description=t.description or None) for t in req.tools]
    if fmt == "openai_responses":
        req.stop = []
    if fmt == "gemini":
        req.model, req.stream = "", False  # both live in the URL
    return req


@settings(max_examples=60, deadline=None)
@given(requests(), st.sampled_from(FORMATS))
def test_request_round_trip(req: Request, fmt: str) -> None:
    warnings: list[str] = []
    body = json.loads(json.dumps(CODECS[fmt].build_request(copy.deepcopy(req), warnings)))
    back = CODECS[fmt].parse_request(body, warnings)
    assert portable_request(back, fmt) == portable_request(req, fmt)
    assert warnings == [] or (fmt == "openai_responses" and req.stop)


usages = st.builds(
    lambda i, c, w, o, r: Usage(i + c + w, o + r, c, w, r),
    *(st.integers(0, 10_000) for _ in range(5)),
)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    parts: list[Part] = []
    if draw(st.booleans()):
        parts.append(Thinking(draw(texts), draw(st.from_regex(r"[A-Za-z0-9]{8,20}", fullmatch=True))))
    if draw(st.booleans()):
        parts.append(Text(draw(texts)))
    calls = [ToolCall(i, draw(names), draw(arguments)) for i in draw(st.lists(ids, max_size=2, unique=True))]
    parts += calls
    reason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens"]))
    return Response(
        id=draw(st.from_regex(r"[a-z0-9]{6,12}", fullmatch=True)),
        model=draw(names),
        parts=parts,
        stop_reason=reason,
        usage=draw(usages),
    )


def portable_response(resp: Response, fmt: str) -> Response:
    resp = copy.deepcopy(resp)
    resp.id = ""
    if fmt == "anthropic":
        resp.usage.reasoning_tokens = 0
    if fmt in ("openai", "gemini"):
        resp.usage.cache_write_tokens = 0
    if fmt == "openai":
        resp.parts = [replace(p, signature=None) if isinstance(p, Thinking) else p for p in resp.parts]
    return resp


@settings(max_examples=60, deadline=None)
@given(responses(), st.sampled_from(FORMATS))
def test_response_round_trip(resp: Response, fmt: str) -> None:
    warnings: list[str] = []
    doc = CODECS[fmt].build_response(copy.deepcopy(resp), warnings, ClientOptions(created=1))
    back = CODECS[fmt].parse_response(json.loads(json.dumps(doc)), warnings)
    if fmt == "gemini":  # Gemini has no call ids: its reader makes them up
        calls = iter(p for p in resp.parts if isinstance(p, ToolCall))
        back.parts = [replace(p, id=next(calls).id) if isinstance(p, ToolCall) else p for p in back.parts]
    assert portable_response(back, fmt) == portable_response(resp, fmt)
    assert warnings == []


def events_of(resp: Response, cuts: list[int]) -> list[Event]:
    """A well-formed neutral stream for `resp`, with text split at the given offsets."""

    def pieces(text: str) -> list[str]:
        marks = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
        return [text[a:b] for a, b in itertools.pairwise(marks) if text[a:b]]

    out: list[Event] = [Start(resp.id, resp.model)]
    for index, part in enumerate(resp.parts):
        if isinstance(part, Text):
            out += [BlockStart(index, Text(""))] + [Delta(index, "text", p) for p in pieces(part.text)]
        elif isinstance(part, Thinking):
            out += [BlockStart(index, Thinking(""))] + [
                Delta(index, "thinking", p) for p in pieces(part.text)
            ]
            out.append(Delta(index, "signature", part.signature or ""))
        elif isinstance(part, ToolCall):
            raw = json.dumps(part.arguments)
            out += [BlockStart(index, ToolCall(part.id, part.name))] + [
                Delta(index, "arguments", p) for p in pieces(raw)
            ]
        out.append(BlockStop(index))
    return [*out, Finish(resp.stop_reason, None, resp.usage), Done()]


def collect(events: list[Event]) -> Response:
    """Fold a neutral stream back into the answer it describes."""
    resp = Response("", "")
    blocks: dict[int, Part] = {}
    raw: dict[int, str] = {}
    for event in events:
        if isinstance(event, Start):
            resp.id, resp.model = event.id, event.model
        elif isinstance(event, BlockStart):
            blocks[event.index] = copy.deepcopy(event.part)
            raw[event.index] = ""
        elif isinstance(event, Delta):
            part = blocks[event.index]
            if event.kind == "arguments":
                raw[event.index] += event.text
            elif event.kind == "signature" and isinstance(part, Thinking):
                part.signature = (part.signature or "") + event.text
            elif isinstance(part, Text | Thinking):
                part.text += event.text
        elif isinstance(event, Finish):
            resp.stop_reason, resp.usage = event.stop_reason, event.usage
    for index, part in blocks.items():
        if isinstance(part, ToolCall):
            part.arguments = json.loads(raw[index] or "{}")
    resp.parts = list(blocks.values())
    return resp


@settings(max_examples=60, deadline=None)
@given(responses(), st.sampled_from(FORMATS), st.lists(st.integers(0, 40), max_size=4), st.integers(1, 50))
def test_stream_round_trip(resp: Response, fmt: str, cuts: list[int], chunk: int) -> None:
    encoder = CODECS[fmt].encoder(ClientOptions(created=1))
    data = b"".join(encoder.encode(e) for e in events_of(resp, cuts))
    decoder, reader = CODECS[fmt].decoder([]), SSEReader()
    events: list[Event] = []
    for i in range(0, len(data), chunk):
        for sse in reader.feed(data[i : i + chunk]):
            events += decoder.feed(sse)
    events += decoder.close()
    assert isinstance(events[-1], Done)
    back = collect(events)
    if fmt == "gemini":
        calls = iter(p for p in resp.parts if isinstance(p, ToolCall))
        back.parts = [replace(p, id=next(calls).id) if isinstance(p, ToolCall) else p for p in back.parts]
    assert portable_response(back, fmt) == portable_response(resp, fmt)


def test_thinking_round_trips_through_anthropic_with_its_signature() -> None:
    req = Request(
        model="m",
        max_tokens=4000,
        messages=[
            Message("user", [Text("hi")]),
            Message(
                "assistant",
                [Thinking("hmm", "sig"), Thinking("", None, "opaque"), ToolCall("t1", "f", {"a": 1})],
            ),
            Message("user", [ToolResult("t1", [Text("no"), Image("image/png", "AAAA")], is_error=True)]),
        ],
    )
    body = CODECS["anthropic"].build_request(copy.deepcopy(req), [])
    back = CODECS["anthropic"].parse_request(body, [])
    assert back.messages == req.messages
