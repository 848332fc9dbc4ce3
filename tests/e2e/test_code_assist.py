"""gemini-cli's Code Assist calls through a real daemon, against the fake's Code Assist endpoint.

Captured-shape requests (tests/fixtures/wire/code_assist_request.json): passthrough keeps the
envelope byte for byte and every view reads the Gemini inside; a transform rule sends the call to
another provider with that provider's credential and hands the answer back wrapped, streams too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.genai import types as gtypes

from tests.daemon import SECRETS, RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import FakeProvider
from tests.wire.golden import load_bytes

GOOGLE_LOGIN = "ya29.fake-google-login-token-0005"
HEADERS = {"authorization": f"Bearer {GOOGLE_LOGIN}", "content-type": "application/json",
           "user-agent": "GeminiCLI/0.20.0 (linux; x64)"}
SESSION = "8c1f7e2a-4b5d-4e6f-9a0b-1c2d3e4f5a6b"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    capacity = {"hook": "ccproxy.hooks.capacity_fallback", "params": {"fallback_models": ["gemini-2.5-flash"]}}
    config = {"hooks": {"outbound": ["ccproxy.hooks.gemini_cli", capacity]}, "inspector": {"transforms": [
        {"match_path": "^/v1internal:", "match_model": "^claude-", "action": "transform", "dest_provider": "anthropic"},
        {"match_path": "^/v1internal:", "action": "redirect", "dest_host": _fake_session.url},
    ]}}
    d = make_daemon(tmp_path_factory.mktemp("codeassist"), _fake_session.host, config).start()
    yield d
    d.stop()


def post(daemon: RunningDaemon, method: str, body: bytes, query: str = "") -> httpx.Response:
    url = f"{daemon.proxy_url}/v1internal:{method}{query}"
    return httpx.post(url, content=body, headers=HEADERS, timeout=30)


def flows(daemon: RunningDaemon, count: int) -> list[dict[str, Any]]:
    def listed() -> list[dict[str, Any]] | None:
        res = daemon.cli("flows", "list", "--json")
        docs: list[dict[str, Any]] = json.loads(res.stdout) if res.returncode == 0 else []
        return docs if len(docs) >= count else None
    result: list[dict[str, Any]] = wait_for(listed, timeout=20, what=f"{count} stored flows")
    return result


def envelope(model: str) -> bytes:
    doc = json.loads(load_bytes("code_assist_request.json"))
    doc["model"] = model
    return json.dumps(doc).encode()


def events(res: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in res.text.splitlines() if line.startswith("data: ")]


def test_passthrough_keeps_the_envelope_and_every_view_reads_inside(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    raw = load_bytes("code_assist_request.json")
    assert post(daemon, "loadCodeAssist", b'{"metadata": {"pluginType": "GEMINI"}}').json()["currentTier"]
    res = post(daemon, "streamGenerateContent", raw, "?alt=sse")
    assert res.status_code == 200 and "text/event-stream" in res.headers["content-type"]
    chunks = events(res)
    assert chunks and all(set(c) == {"response", "traceId"} for c in chunks)
    text = "".join(gtypes.GenerateContentResponse.model_validate(c["response"]).text or "" for c in chunks)
    assert text == "The weather in Paris is sunny."
    seen = fake_provider.requests[-1]
    assert seen.body == raw and seen.path == "/v1internal:streamGenerateContent?alt=sse"
    assert seen.headers["authorization"] == f"Bearer {GOOGLE_LOGIN}"
    res = post(daemon, "generateContent", raw)
    assert res.json()["response"]["candidates"][0]["finishReason"] == "STOP"
    count = post(daemon, "countTokens", json.dumps({"request": {"model": "models/gemini-2.5-pro", "contents": []}}).encode())
    assert count.json()["totalTokens"] >= 0

    docs = flows(daemon, 4)
    stream, plain, counted = (d["ccproxy"] for d in docs[-3:])
    assert stream["model"] == plain["model"] == "gemini-2.5-pro" and counted["model"] == "gemini-2.5-pro"
    assert stream["usage"]["input_tokens"] > 0 and plain["usage"]["output_tokens"] > 0
    assert stream["session_id"] == SESSION and stream["stop_reason"] == "STOP"
    assert any("Code Assist envelope" in w for w in stream["warnings"])  # the gemini_cli hook's redirect note
    shown = daemon.cli("flows", "show", docs[-3]["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert "The weather in Paris is sunny." in shown.stdout and "code_assist" in shown.stdout
    lint = daemon.cli("flows", "lint", "--json", "--jq", f'map(select(.id == "{docs[-3]["id"]}"))')
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert '"code_assist"' in lint.stdout
    tree = daemon.cli("flows", "tree", "--json")
    assert tree.returncode == 0 and SESSION in tree.stdout and "This is the Gemini CLI." in tree.stdout
    cache = daemon.cli("flows", "cache", docs[-2]["id"], "--json")
    assert cache.returncode == 0 and docs[-2]["id"] in cache.stdout, cache.stderr
    diff = daemon.cli("flows", "turndiff", docs[-2]["id"], "--json")
    assert diff.returncode == 0, diff.stderr
    page = daemon.config_dir / "viewer.html"
    export = daemon.cli("flows", "export", "--html", str(page))
    assert export.returncode == 0, export.stderr
    html = page.read_text()
    assert SESSION in html and "gemini-2.5-pro" in html and "This is the Gemini CLI." in html


@pytest.mark.parametrize("stream", [False, True])
def test_a_transform_rule_sends_it_to_another_provider_and_wraps_the_answer(
    daemon: RunningDaemon, fake_provider: FakeProvider, stream: bool
) -> None:
    fake_provider.reset()
    method, query = ("streamGenerateContent", "?alt=sse") if stream else ("generateContent", "")
    res = post(daemon, method, envelope("claude-sonnet-test"), query)
    assert res.status_code == 200, res.text
    docs = events(res) if stream else [res.json()]
    assert docs and all(set(d) == {"response"} for d in docs)
    answers = [gtypes.GenerateContentResponse.model_validate(d["response"]) for d in docs]
    assert "".join(a.text or "" for a in answers) == "The weather in Paris is sunny."
    assert any(a.usage_metadata and a.usage_metadata.prompt_token_count for a in answers)
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages" and seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]
    assert "authorization" not in seen.headers and GOOGLE_LOGIN not in json.dumps(seen.headers)
    assert seen.json["model"] == "claude-sonnet-test" and seen.json["system"].startswith("You are an interactive")
    assert "fake-project-0001" not in seen.body.decode()
    record = flows(daemon, 1)[-1]["ccproxy"]
    assert (record["transform"]["from_format"], record["transform"]["to_format"]) == ("code_assist", "anthropic")


def test_gemini_cli_own_capacity_errors_fall_back_on_code_assist(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    fake_provider.reset()
    res = post(daemon, "streamGenerateContent", envelope("gemini-2.5-pro-capacity"), "?alt=sse")
    assert res.status_code == 200 and all(set(c) == {"response", "traceId"} for c in events(res))
    models = [r.json["model"] for r in fake_provider.requests]
    assert models == ["gemini-2.5-pro-capacity", "gemini-2.5-pro-capacity", "gemini-2.5-flash"]
    assert all(r.headers["authorization"] == f"Bearer {GOOGLE_LOGIN}" for r in fake_provider.requests)
    assert all(r.path == "/v1internal:streamGenerateContent?alt=sse" for r in fake_provider.requests)
    record = flows(daemon, 1)[-1]["ccproxy"]
    assert record["model"] == "gemini-2.5-flash"
    assert [a["status"] for a in record["extra"]["capacity"]["attempts"]] == [429, 429, 200]
