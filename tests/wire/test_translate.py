"""Every direction between the four formats, on recorded fixtures: goldens plus what must survive."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccproxy.wire.neutral import ClientOptions, Image, Request, Response, Text, Thinking, ToolCall, ToolResult
from ccproxy.wire.sse import SSEReader
from ccproxy.wire.translate import (
    CODECS,
    StreamTranslator,
    TranslationError,
    translate_error,
    translate_request,
    translate_response,
)
from tests.wire.golden import CREATED, PAIRS, check_golden, load_bytes, load_json, pretty

GEMINI_PATH = {"path_model": "gemini-2.5-flash", "path_stream": True, "path_sse": True}


def request_of(fmt: str) -> Request:
    return CODECS[fmt].parse_request(load_json(f"{fmt}_request.json"), [])


def translated_request(src: str, dst: str) -> tuple[dict[str, Any], list[str]]:
    raw = json.dumps(load_json(f"{src}_request.json"))
    out = translate_request(raw, src, dst, **(GEMINI_PATH if src == "gemini" else {}))
    return out.body, out.warnings


def facts(req: Request) -> dict[str, Any]:
    """What any format can carry: the conversation's texts, images, calls and results."""
    texts, images, calls, results = [], [], [], []
    for message in req.messages:
        for part in message.parts:
            if isinstance(part, Text):
                texts.append((message.role, part.text))
            elif isinstance(part, Image):
                images.append(part.data or part.url)
            elif isinstance(part, ToolCall):
                calls.append((part.name, part.arguments))
            elif isinstance(part, ToolResult):
                results.append(part.text.removeprefix("Error: "))
    return {
        "system": "\n\n".join(req.system),
        "texts": texts,
        "images": images,
        "calls": calls,
        "results": results,
        "tools": [(t.name, t.description, t.parameters) for t in req.tools],
        "max_tokens": req.max_tokens,
    }


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_request_golden(src: str, dst: str) -> None:
    body, warnings = translated_request(src, dst)
    check_golden(f"request_{src}_to_{dst}.json", pretty({"body": body, "warnings": warnings}))


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_request_keeps_the_conversation(src: str, dst: str) -> None:
    body, _ = translated_request(src, dst)
    back = CODECS[dst].parse_request(body, [])
    before, after = facts(request_of(src)), facts(back)
    assert after["calls"] == before["calls"]
    assert after["results"] == before["results"]
    assert after["images"] == before["images"]
    assert after["tools"] == before["tools"]
    assert after["system"] == before["system"]
    assert [t for _, t in after["texts"]] == [t for _, t in before["texts"]]
    assert after["max_tokens"] == before["max_tokens"]


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_tool_results_answer_their_calls(src: str, dst: str) -> None:
    """Call ids survive (or, for Gemini, are paired back by name in order)."""
    body, _ = translated_request(src, dst)
    back = CODECS[dst].parse_request(body, [])
    calls = [p for m in back.messages for p in m.parts if isinstance(p, ToolCall)]
    results = [p for m in back.messages for p in m.parts if isinstance(p, ToolResult)]
    assert [r.call_id for r in results] == [c.id for c in calls]


def test_anthropic_specifics_reach_each_format() -> None:
    openai, _ = translated_request("anthropic", "openai")
    assert openai["stop"] == ["\n\nHuman:"] and openai["reasoning_effort"] == "medium"
    assert openai["stream_options"] == {"include_usage": True}
    assert [m["role"] for m in openai["messages"]] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert openai["messages"][4]["content"] == "Error: service unavailable"
    gemini, _ = translated_request("anthropic", "gemini")
    assert gemini["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 8000, "includeThoughts": True}
    responses, _ = translated_request("anthropic", "openai_responses")
    assert responses["reasoning"] == {"effort": "medium"} and responses["tools"][0]["strict"] is False


def test_thinking_with_signature_goes_back_to_anthropic_from_responses() -> None:
    body, _ = translated_request("openai_responses", "anthropic")
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Two cities: call the tool twice.",
        "signature": "EqQBCkYIBxgCKkBsig==",
    }


def test_what_cannot_map_is_named_in_warnings() -> None:
    _, warnings = translated_request("anthropic", "openai")
    assert any("thinking" in w for w in warnings)
    _, warnings = translated_request("openai", "openai_responses")
    assert any("stop sequences" in w for w in warnings)
    _, warnings = translated_request("gemini", "openai")
    assert any("top_k" in w for w in warnings)
    _, warnings = translated_request("openai", "anthropic")
    assert not any("max_tokens" in w for w in warnings)  # max_completion_tokens was given


def test_gemini_model_and_streaming_come_from_the_path() -> None:
    raw = json.dumps(load_json("gemini_request.json"))
    out = translate_request(
        raw, "gemini", "anthropic", path_model="gemini-x", path_stream=True, path_sse=True
    )
    assert out.body["model"] == "gemini-x" and out.body["stream"] is True
    array = translate_request(raw, "gemini", "openai", path_model="g", path_stream=True, path_sse=False)
    assert "stream" not in array.body and array.options.json_array
    renamed = translate_request(raw, "gemini", "openai", path_model="g", model="gpt-4.1")
    assert renamed.body["model"] == "gpt-4.1"


def test_bad_request_bodies_raise_translation_error() -> None:
    with pytest.raises(TranslationError, match="not JSON"):
        translate_request(b"{nope", "openai", "anthropic")
    with pytest.raises(TranslationError, match="not a JSON object"):
        translate_request(b"[1]", "openai", "anthropic")
    with pytest.raises(TranslationError, match="not valid openai"):
        translate_request(b'{"messages": 5}', "openai", "anthropic")


# --- responses ---------------------------------------------------------------------------------


def translated_response(upstream: str, client: str) -> tuple[Any, list[str]]:
    warnings: list[str] = []
    raw = json.dumps(load_json(f"{upstream}_response.json"))
    doc, _ = translate_response(raw, upstream, client, ClientOptions(created=CREATED), warnings)
    return doc, warnings


def answer_facts(resp: Response) -> dict[str, Any]:
    return {
        "text": "".join(p.text for p in resp.parts if isinstance(p, Text)),
        "thinking": "".join(p.text for p in resp.parts if isinstance(p, Thinking)),
        "calls": [(p.name, p.arguments) for p in resp.parts if isinstance(p, ToolCall)],
        "stop": resp.stop_reason,
        "input": resp.usage.input_tokens,
        "output": resp.usage.output_tokens,
        "cached": resp.usage.cached_tokens,
    }


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_response_golden(upstream: str, client: str) -> None:
    doc, warnings = translated_response(upstream, client)
    check_golden(f"response_{upstream}_to_{client}.json", pretty({"body": doc, "warnings": warnings}))


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_response_keeps_answer_and_usage(upstream: str, client: str) -> None:
    doc, _ = translated_response(upstream, client)
    before = answer_facts(CODECS[upstream].parse_response(load_json(f"{upstream}_response.json"), []))
    after = answer_facts(CODECS[client].parse_response(doc, []))
    assert after["text"] == before["text"] == "Checking Paris and Rome."
    assert (
        after["calls"]
        == before["calls"]
        == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    )
    assert after["stop"] == before["stop"] == "tool_use"
    assert (after["input"], after["output"], after["cached"]) == (
        before["input"],
        before["output"],
        before["cached"],
    )
    if "openai" not in (upstream, client):  # OpenAI Chat has no thinking; reasoning_content loses order
        assert after["thinking"] == before["thinking"] == "Two cities, so two calls."


def test_usage_accounting_converts_between_conventions() -> None:
    """Anthropic counts cached tokens outside input_tokens; OpenAI and Gemini count them inside."""
    doc, _ = translated_response("anthropic", "openai")
    assert doc["usage"]["prompt_tokens"] == 120 + 30 + 50
    assert doc["usage"]["prompt_tokens_details"]["cached_tokens"] == 50
    back, _ = translated_response("openai", "anthropic")
    assert back["usage"]["input_tokens"] == 200 - 50 and back["usage"]["cache_read_input_tokens"] == 50
    gemini, _ = translated_response("openai", "gemini")
    assert (
        gemini["usageMetadata"]["candidatesTokenCount"] == 80 - 16
        and gemini["usageMetadata"]["thoughtsTokenCount"] == 16
    )


def test_gemini_json_array_answer() -> None:
    raw = json.dumps(load_json("anthropic_response.json"))
    doc, _ = translate_response(raw, "anthropic", "gemini", ClientOptions(json_array=True), [])
    assert isinstance(doc, list) and doc[0]["candidates"][0]["content"]["parts"][1] == {
        "text": "Checking Paris and Rome."
    }


def test_non_json_answer_raises() -> None:
    with pytest.raises(TranslationError):
        translate_response(b"<html>", "openai", "anthropic", ClientOptions(), [])


# --- streams -----------------------------------------------------------------------------------


def run_stream(upstream: str, client: str, step: int = 7) -> bytes:
    raw = load_bytes(f"{upstream}_stream.sse")
    translator = StreamTranslator(upstream, client, ClientOptions(created=CREATED))
    out = b"".join(translator(raw[i : i + step]) for i in range(0, len(raw), step))
    return out + translator(b"")


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_stream_golden(upstream: str, client: str) -> None:
    check_golden(f"stream_{upstream}_to_{client}.sse", run_stream(upstream, client).decode())


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_stream_is_independent_of_chunking(upstream: str, client: str) -> None:
    whole = run_stream(upstream, client, step=1_000_000)
    assert run_stream(upstream, client, step=1) == whole == run_stream(upstream, client, step=13)


def decode_stream(fmt: str, data: bytes) -> dict[str, Any]:
    """Read a client stream back with the same format's decoder: the text, calls and ending it carries."""
    from ccproxy.wire.neutral import BlockStart, Delta, Done, Fail, Finish

    decoder = CODECS[fmt].decoder([])
    reader = SSEReader()
    events = [e for sse in reader.feed(data) + reader.flush() for e in decoder.feed(sse)] + decoder.close()
    kinds: dict[int, Any] = {}
    text, args = "", {}
    out: dict[str, Any] = {"finish": None, "done": False, "fail": None}
    for event in events:
        if isinstance(event, BlockStart):
            kinds[event.index] = event.part
            if isinstance(event.part, ToolCall):
                args[event.index] = ""
        elif isinstance(event, Delta) and event.kind == "text":
            text += event.text
        elif isinstance(event, Delta) and event.kind == "arguments":
            args[event.index] += event.text
        elif isinstance(event, Finish):
            out["finish"] = event
        elif isinstance(event, Done):
            out["done"] = True
        elif isinstance(event, Fail):
            out["fail"] = event.error
    out["text"] = text
    out["calls"] = [(kinds[i].name, _json_or_raw(a)) for i, a in args.items()]
    return out


def _json_or_raw(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return text  # a call torn by a cut stream


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_stream_carries_text_calls_usage_and_terminator(upstream: str, client: str) -> None:
    got = decode_stream(client, run_stream(upstream, client))
    assert got["text"] == "Checking Paris and Rome."
    assert got["calls"] == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert got["done"] and got["fail"] is None
    assert got["finish"].stop_reason == "tool_use"
    usage = got["finish"].usage
    assert (usage.input_tokens, usage.output_tokens) == (200, 80)
    assert usage.cached_tokens == 50


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
def test_stream_cut_short_ends_with_the_client_error_event(upstream: str, client: str) -> None:
    raw = load_bytes(f"{upstream}_stream.sse")
    cut = raw[: len(raw) // 2]
    translator = StreamTranslator(upstream, client, ClientOptions(created=CREATED))
    out = translator(cut) + translator(b"")
    got = decode_stream(client, out)
    assert got["fail"] is not None and "ended before the answer was complete" in got["fail"].message
    assert not got["done"]
    assert translator(b"more") == b"" and translator.cut("late") == b""  # nothing after the end


@pytest.mark.parametrize("client", ["anthropic", "openai", "openai_responses", "gemini"])
def test_transport_cut_gives_one_error_event(client: str) -> None:
    translator = StreamTranslator("anthropic", client, ClientOptions(created=CREATED))
    raw = load_bytes("anthropic_stream.sse")
    translator(raw[:400])
    tail = translator.cut("peer closed connection")
    got = decode_stream(client, tail)
    assert got["fail"] is not None and "peer closed connection" in got["fail"].message
    assert translator.cut("again") == b""


def test_upstream_error_event_mid_stream_is_passed_on() -> None:
    error = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    translator = StreamTranslator("anthropic", "openai", ClientOptions())
    first_events = b"".join(e + b"\n\n" for e in load_bytes("anthropic_stream.sse").split(b"\n\n")[:5])
    out = translator(first_events + error)
    assert b'"content":""' in out  # what came before the error went through
    assert b'"message":"Overloaded"' in out and b"[DONE]" not in out


def test_garbage_upstream_event_fails_the_stream_cleanly() -> None:
    translator = StreamTranslator("openai", "anthropic", ClientOptions())
    out = translator(b"data: {not json}\n\n")
    assert out.startswith(b"event: error\n") and b"could not translate" in out


# --- errors ------------------------------------------------------------------------------------

ERROR_BODIES = {
    "anthropic": lambda s: {
        "type": "error",
        "error": {
            "type": {
                400: "invalid_request_error",
                401: "authentication_error",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(s, "api_error"),
            "message": "boom",
        },
    },
    "openai": lambda s: {
        "error": {"message": "boom", "type": "invalid_request_error", "param": None, "code": None}
    },
    "openai_responses": lambda s: {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": None}
    },
    "gemini": lambda s: {"error": {"code": s, "message": "boom", "status": "INTERNAL"}},
}


@pytest.mark.parametrize(("upstream", "client"), PAIRS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_errors_keep_status_and_message(upstream: str, client: str, status: int) -> None:
    raw = json.dumps(ERROR_BODIES[upstream](status)).encode()
    out_status, body = translate_error(status, raw, upstream, client)
    assert out_status == (529 if client == "anthropic" and status == 503 else status)
    assert CODECS[client].parse_error(out_status, body).message == "boom"


def test_error_shapes_per_client_format() -> None:
    raw = json.dumps(ERROR_BODIES["anthropic"](429)).encode()
    assert translate_error(429, raw, "anthropic", "openai")[1]["error"]["type"] == "rate_limit_error"
    assert translate_error(429, raw, "anthropic", "gemini")[1]["error"]["status"] == "RESOURCE_EXHAUSTED"
    overloaded = json.dumps(ERROR_BODIES["anthropic"](529)).encode()
    assert translate_error(529, overloaded, "anthropic", "openai")[0] == 503
    assert translate_error(529, overloaded, "anthropic", "gemini") == (
        503,
        {"error": {"code": 503, "message": "boom", "status": "UNAVAILABLE"}},
    )
    gem = json.dumps({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}).encode()
    assert translate_error(429, gem, "gemini", "anthropic")[1]["error"]["type"] == "rate_limit_error"


def test_non_json_error_body_still_becomes_a_client_error() -> None:
    status, body = translate_error(502, b"<html>Bad Gateway</html>", "openai", "anthropic")
    assert (
        status == 502 and body["error"]["type"] == "api_error" and "Bad Gateway" in body["error"]["message"]
    )
    status, body = translate_error(500, b"", "gemini", "openai")
    assert status == 500 and "no body" in body["error"]["message"]


SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def test_anthropic_structured_output_reaches_every_format() -> None:
    raw = json.dumps({
        "model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
        "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
    })
    chat = translate_request(raw, "anthropic", "openai").body
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    responses = translate_request(raw, "anthropic", "openai_responses").body
    assert responses["text"] == {"format": {"type": "json_schema", "name": "output", "schema": SCHEMA}}
    gemini = translate_request(raw, "anthropic", "gemini", path_model="g").body["generationConfig"]
    assert (gemini["responseMimeType"], gemini["responseJsonSchema"]) == ("application/json", SCHEMA)
    back = translate_request(json.dumps(chat), "openai", "anthropic")
    assert back.body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert not back.warnings or all("response_format" not in w for w in back.warnings)


def test_anthropic_fields_without_equivalent_and_a_system_message_are_warned() -> None:
    raw = json.dumps({
        "model": "m", "max_tokens": 64, "system": "rules",
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "late rules"}],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
    })
    out = translate_request(raw, "anthropic", "openai")
    assert out.body["messages"][0] == {"role": "system", "content": "rules\n\nlate rules"}
    assert [m["role"] for m in out.body["messages"]] == ["system", "user"]
    assert any("context_management" in w for w in out.warnings)
    assert any("system message inside messages" in w for w in out.warnings)
