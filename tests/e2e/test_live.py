"""Streams seen while they stream: `/ccproxy/api/live`, `flows show --follow` and the viewer page show a
response before it ends (the fake holds its stream half way until the test lets it go)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic

from tests.daemon import RunningDaemon, wait_for
from tests.e2e.test_viewer import get, needs_chromium
from tests.fakes.provider import FakeProvider
from tests.viewer.cdp import chromium


@contextmanager
def held_stream(daemon: RunningDaemon, fake: FakeProvider) -> Iterator[dict[str, Any]]:
    """A streamed Anthropic request the fake holds after two words; `ended` is set once the client has it all."""
    fake.gate = threading.Event()
    state: dict[str, Any] = {"ended": threading.Event(), "text": None, "gate": fake.gate}

    def run() -> None:
        client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
        with client.messages.stream(model="claude-test", max_tokens=32,
                                    messages=[{"role": "user", "content": "stream slowly"}]) as stream:
            state["text"] = "".join(stream.text_stream)
        state["ended"].set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        fake.gate.set()
        thread.join(timeout=30)


def live(daemon: RunningDaemon) -> list[dict[str, Any]]:
    status, body = get(daemon.inspector_url + "/ccproxy/api/live", daemon.state["web_token"])
    assert status == 200
    flows: list[dict[str, Any]] = json.loads(body)["flows"]
    return flows


def test_live_endpoint_and_follow_show_the_stream_before_it_ends(
        daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    assert get(daemon.inspector_url + "/ccproxy/api/live")[0] == 403  # the mitmweb token guards it
    follow = subprocess.Popen(daemon.command("flows", "show", "--follow", "--timeout", "60"), env=daemon.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: follow.stdout.read(1), "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        with held_stream(daemon, fake_provider) as state:
            entry = wait_for(lambda: next((f for f in live(daemon) if f["text"] == "Hello from "), None), 20,
                             what="the first two words in flight")
            assert not state["ended"].is_set()  # the client has not got the whole answer yet
            assert entry["ttft_ms"] is not None and entry["ttft_ms"] >= 0 and entry["events"] >= 3
            assert entry["complete"] is False and entry["tokens_estimated"] is True
            wait_for(lambda: "Hello from " in "".join(seen), 20, what="--follow printing the partial text")
            assert not state["ended"].is_set()
            state["gate"].set()
            wait_for(state["ended"].is_set, 20, what="the stream's end")
        assert state["text"] == "Hello from the fake provider."
        assert follow.wait(timeout=30) == 0, follow.stderr.read() if follow.stderr else ""
    finally:
        if follow.poll() is None:
            follow.kill()
    reader.join(timeout=5)
    out = "".join(seen)
    assert f"following flow {entry['id']}" in out and "Hello from the fake provider." in out
    assert "TTFT" in out and "finished: 200" in out
    wait_for(lambda: not live(daemon), 10, what="the finished flow leaving the live list")
    status, body = get(f"{daemon.inspector_url}/ccproxy/api/flow/{entry['id']}", daemon.state["web_token"])
    assert status == 200 and json.loads(body)["context"]["total_tokens"] > 0  # the context bar's data


@needs_chromium
def test_the_viewer_shows_an_in_flight_stream(daemon_factory: Callable[..., RunningDaemon],
                                               fake_provider: FakeProvider) -> None:
    daemon = daemon_factory()
    with chromium() as page:
        page.goto(f"{daemon.inspector_url}/ccproxy/?token={daemon.state['web_token']}")
        page.wait_for("window.ccproxyReady === true")
        with held_stream(daemon, fake_provider) as state:
            page.wait_for("(document.querySelector('#inflight .live-text') || {}).innerText === 'Hello from '", timeout=30)
            assert not state["ended"].is_set()
            assert "TTFT" in page.evaluate("document.getElementById('inflight').innerText")
            state["gate"].set()
            wait_for(state["ended"].is_set, 20, what="the stream's end")
        page.wait_for("document.getElementById('inflight').children.length === 0 && "
                      "document.querySelectorAll('.turn').length === 1", timeout=30)
        page.wait_for("document.getElementById('quota').innerText.startsWith('quota: anthropic 5h ')", timeout=30)
        page.evaluate("document.querySelector('.turn').click()")
        page.wait_for("document.querySelector('.context .bar') !== null", timeout=30)
        assert page.console_errors == []
