"""Upstream failures through a transform: each SDK gets its own format's error, never a hang."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.daemon import RunningDaemon, make_daemon, wait_for
from tests.e2e.test_transform import transform_config
from tests.fakes.provider import FakeProvider


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    d = make_daemon(
        tmp_path_factory.mktemp("faults"),
        _fake_session.host,
        transform_config(_fake_session.host),
        {"FAKE_DEEPSEEK_KEY": "k"},
    ).start()
    yield d
    d.stop()


def openai_client(daemon: RunningDaemon) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0
    )


def gemini_client(daemon: RunningDaemon) -> genai.Client:
    options = gtypes.HttpOptions(base_url=daemon.proxy_url, retry_options=gtypes.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="sk-ant-oat-ccproxy-anthropic", http_options=options)


@pytest.mark.parametrize(
    ("code", "error_class"),
    [(400, openai.BadRequestError), (429, openai.RateLimitError), (500, openai.InternalServerError)],
)
def test_openai_sdk_gets_openai_errors_from_anthropic(
    daemon: RunningDaemon, code: int, error_class: type[Exception]
) -> None:
    with pytest.raises(error_class) as err:
        openai_client(daemon).chat.completions.create(
            model=f"claude-error-{code}", messages=[{"role": "user", "content": "x"}]
        )
    assert isinstance(err.value, openai.APIStatusError) and err.value.status_code == code
    assert err.value.body == {
        "message": f"fake provider error {code}",
        "type": {400: "invalid_request_error", 429: "rate_limit_error", 500: "server_error"}[code],
        "param": None,
        "code": {429: "rate_limit_exceeded"}.get(code),
    }


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_gets_anthropic_errors_from_openai(daemon: RunningDaemon, stream: bool) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="own", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as err:
        if stream:
            with client.messages.stream(
                model="gpt-error-429", max_tokens=8, messages=[{"role": "user", "content": "x"}]
            ) as s:
                s.get_final_message()
        else:
            client.messages.create(
                model="gpt-error-429", max_tokens=8, messages=[{"role": "user", "content": "x"}]
            )
    assert err.value.status_code == 429
    assert err.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "fake provider error 429"},
    }


def test_gemini_and_responses_sdks_get_their_errors(daemon: RunningDaemon) -> None:
    client = gemini_client(daemon)  # keep a reference: a collected genai.Client closes its transport
    with pytest.raises(gerrors.ServerError) as gerr:
        client.models.generate_content(model="claude-error-503", contents="x")
    assert (
        gerr.value.code == 503
        and gerr.value.status == "UNAVAILABLE"
        and gerr.value.message == "fake provider error 503"
    )
    with pytest.raises(openai.BadRequestError) as oerr:
        openai_client(daemon).responses.create(model="claude-error-400", input="x")
    assert oerr.value.status_code == 400 and "fake provider error 400" in str(oerr.value)


def test_openai_stream_cut_upstream_ends_with_an_error_event(daemon: RunningDaemon) -> None:
    model = "claude-openai-stream-cut"  # this test's own flow, whatever ran before it
    stream = openai_client(daemon).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as err:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Hello from "  # what arrived before the cut went through
    assert "upstream stream broke" in err.value.message

    def recorded() -> list[dict[str, Any]] | None:
        done = daemon.cli("flows", "list", "--json", "--jq", f'map(select(.ccproxy.model == "{model}"))')
        return json.loads(done.stdout or "[]") or None

    records = wait_for(recorded, timeout=20, what=f"the stored flow of {model}")
    assert len(records) == 1
    assert "peer closed connection" in (records[0]["ccproxy"]["error"] or "")


def test_anthropic_stream_cut_upstream_ends_with_an_error_event(daemon: RunningDaemon) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="own", max_retries=0)
    text: list[str] = []
    request: Any = {"model": "gpt-cut", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    with (
        pytest.raises(anthropic.APIStatusError) as err,
        client.messages.stream(**request) as s,
    ):  # from `event: error`
        text.extend(s.text_stream)
    assert "".join(text) == "Hello from "
    assert err.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "upstream stream broke" in err.value.body["error"]["message"]  # type: ignore[index]


def test_gemini_stream_cut_upstream_ends_with_an_error(daemon: RunningDaemon) -> None:
    got: list[str] = []
    client = gemini_client(daemon)
    with pytest.raises(gerrors.APIError) as err:
        for chunk in client.models.generate_content_stream(model="claude-cut", contents="x"):
            got.append(chunk.text or "")
    assert "".join(got) == "Hello from " and err.value.code == 502
    assert "upstream stream broke" in (err.value.message or "")


def test_responses_stream_cut_upstream_sends_error_and_failed(daemon: RunningDaemon) -> None:
    events = list(openai_client(daemon).responses.create(model="claude-cut", input="x", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    error: Any = events[-2]
    assert "upstream stream broke" in error.message


def test_connection_failure_before_an_answer_is_a_json_502(daemon: RunningDaemon) -> None:
    """mitmproxy answers these itself (before any byte came back), in ccproxy's JSON error shape."""
    res = httpx.post(
        daemon.proxy_url + "/v1/chat/completions",
        headers={"authorization": "Bearer sk-ant-oat-ccproxy-anthropic"},
        json={"model": "claude-reset", "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    assert res.status_code == 502 and "upstream" in res.json()["error"]["message"]
    with pytest.raises(openai.APIStatusError) as err:
        openai_client(daemon).chat.completions.create(
            model="claude-reset", messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.status_code == 502
