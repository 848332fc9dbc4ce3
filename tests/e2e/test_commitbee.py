"""commitbee's request shape through the `commitbee_compat` hook, against a fake that fences its answer.

commitbee streams (its OpenAI and Anthropic providers send `stream: true`); the hook also covers a
non-streamed answer and a translated one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.daemon import RunningDaemon, make_daemon
from tests.fakes.provider import FENCED, FakeProvider

SYSTEM = ("You generate Conventional Commit messages from git diffs. Respond with a JSON object with "
          "the fields type, scope, subject and body.")
PROMPT = "diff --git a/src/wire.py b/src/wire.py\n+def unwrap(doc): ...\n"
RAW = FENCED.removeprefix("```json\n").removesuffix("\n```")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    config = {"hooks": {"outbound": ["ccproxy.hooks.gemini_cli", "ccproxy.hooks.inject_mcp_notifications",
                                     "ccproxy.hooks.commitbee_compat"]}}
    d = make_daemon(tmp_path_factory.mktemp("commitbee"), _fake_session.host, config).start()
    yield d
    d.stop()


def client(daemon: RunningDaemon, provider: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key=f"sk-ant-oat-ccproxy-{provider}", max_retries=0)


def commitbee_messages(system: str = SYSTEM) -> Any:
    return [{"role": "system", "content": system}, {"role": "user", "content": PROMPT}]


def test_a_streamed_fenced_answer_arrives_as_raw_json(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    chunks = client(daemon).chat.completions.create(model="gpt-4o-mini-fenced", messages=commitbee_messages(),
                                                   temperature=0.3, max_tokens=256, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == RAW and json.loads(text)["type"] == "feat"


def test_a_whole_answer_and_a_translated_stream_too(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    out = client(daemon).chat.completions.create(model="gpt-4o-mini-fenced", messages=commitbee_messages())
    assert out.choices[0].message.content == RAW
    translated = client(daemon, "anthropic").chat.completions.create(
        model="claude-fenced", messages=commitbee_messages(), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in translated if c.choices) == RAW
    native = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    with native.messages.stream(model="claude-fenced", max_tokens=256, system=SYSTEM,
                                messages=[{"role": "user", "content": PROMPT}]) as s:
        assert "".join(s.text_stream) == RAW


def test_other_clients_keep_their_fences_and_status_shows_the_hook(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    chunks = client(daemon).chat.completions.create(model="gpt-4o-mini-fenced", stream=True,
                                                   messages=commitbee_messages("You are a helpful assistant."))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == FENCED
    status = json.loads(daemon.cli("status", "--json").stdout)
    assert [h["name"] for h in status["pipeline"]["outbound"]][-1] == "commitbee_compat"
