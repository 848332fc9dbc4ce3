"""The live session viewer on a real daemon's mitmweb port, in a real headless Chromium.

The store is seeded with a recorded Claude Code session (a Task subagent included) before the
daemon starts; then a real Anthropic SDK request goes through the daemon and the open page must
pick it up by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.store.api import store_path
from ccproxy.store.db import FlowStore
from tests.daemon import SECRETS, RunningDaemon, wait_for
from tests.sessions.agent_session import SUBAGENT_PROMPT, records
from tests.viewer.cdp import CHROMIUM, chromium
from tests.viewer.test_browser import SUBAGENT_NESTED, shoot

needs_chromium = pytest.mark.skipif(not (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)),
                                    reason="chromium is not installed (scripts/setup.sh installs it)")


def seeded(daemon_factory: Callable[..., RunningDaemon]) -> RunningDaemon:
    # the recorded session is older than the default 14-day retention
    daemon = daemon_factory(config={"flows": {"retention": {"max_age_days": 36500}}}, start=False)
    with FlowStore(store_path(CCProxyConfig(), daemon.config_dir), create=True) as store:
        store.put(records())
    return daemon.start()


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def test_the_viewer_needs_the_mitmweb_token(daemon_factory: Callable[..., RunningDaemon]) -> None:
    daemon = seeded(daemon_factory)
    base, token = daemon.inspector_url + "/ccproxy", daemon.state["web_token"]
    assert get(base + "/api/data")[0] == 403
    assert get(base + "/", "wrong-token")[0] == 403
    assert b"ccproxy status --show-secrets" in get(base + "/")[1]  # the 403 says how to get the token
    shown = daemon.cli("status", "--json", "--show-secrets")
    assert json.loads(shown.stdout)["viewer"]["url"] == f"{daemon.inspector_url}/ccproxy/?token={token}"
    hidden = json.loads(daemon.cli("status", "--json").stdout)["viewer"]["url"]
    assert hidden == f"{daemon.inspector_url}/ccproxy/" and token not in daemon.cli("status").stdout
    status, body = get(base + "/api/data", token)
    assert status == 200
    data = json.loads(body)
    spawner = data["tree"][0]["conversations"][0]["turns"][0]
    assert spawner["children"][0]["title"] == SUBAGENT_PROMPT
    assert "phases" not in data["flows"]["a3000000-0000-4000-8000-000000000000"]  # light: bodies come per flow
    status, body = get(base + "/api/flow/a3000000-0000-4000-8000-000000000000", token)
    assert status == 200 and json.loads(body)["phases"]["request"]["body"].startswith("{")
    assert get(base + "/api/flow/a3000000-0000-4000-8000-000000000000")[0] == 403
    assert get(base + "/api/flow/ffffffff-0000-4000-8000-000000000000", token)[0] == 404
    status, page = get(base + "/", token)
    assert status == 200 and b"connect-src 'self'" in page

    # `?token=` once: answered with the cookie and a redirect to the same page without it (no token in history)
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for path in ("/?token=", "?token=", "/?x=1&token="):
        try:
            opener.open(base + path + token, timeout=30)
            raise AssertionError("no redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and token not in exc.headers["Location"], (path, exc.headers["Location"])
            assert exc.headers["Location"] in ("/ccproxy/", "/ccproxy/?x=1")
            assert "Set-Cookie" in exc.headers or path == "?token="


@needs_chromium
def test_the_live_page_shows_the_session_and_updates_itself(
        daemon_factory: Callable[..., RunningDaemon], tmp_path: Path) -> None:
    daemon = seeded(daemon_factory)
    with chromium() as page:
        page.goto(f"{daemon.inspector_url}/ccproxy/?token={daemon.state['web_token']}")
        page.wait_for("window.ccproxyReady === true && document.querySelector('.conv') !== null")
        nested = page.evaluate(SUBAGENT_NESTED)
        assert nested is not None and nested["turns"] == 2 and nested["title"].endswith(SUBAGENT_PROMPT)
        before = page.evaluate("document.querySelectorAll('.turn').length")
        client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
        client.messages.create(model="claude-sonnet-4-5", max_tokens=32,
                               messages=[{"role": "user", "content": "live viewer check"}])
        page.wait_for(f"document.querySelectorAll('.turn').length === {before + 1}", timeout=60)
        assert "live viewer check" in page.evaluate("document.getElementById('tree').innerText")
        page.evaluate("document.querySelector('.turn[data-flow^=\"a0\"]').click()")
        page.wait_for("document.querySelectorAll('.phase[data-phase]').length === 4")
        link = page.evaluate("document.querySelector('#detail a').getAttribute('href')")
        assert link == "../#/flows/a0000000-0000-4000-8000-000000000000/request"
        shoot(page, tmp_path, "viewer-live.png")
        assert page.console_errors == []
    wait_for(lambda: daemon.proc is not None and daemon.proc.poll() is None, 5, what="daemon still serving")


SESSION_REAL = "0d4c9c2e-7c1a-4c55-9a43-5b3a2f1e0c77"
TASK_TOOL = {"name": "Task", "description": "Launch a subagent", "input_schema": {
    "type": "object", "properties": {"prompt": {"type": "string"}}}}


def test_real_sdk_traffic_reads_as_a_session_with_a_subagent_and_valid_streams(
        daemon_factory: Callable[..., RunningDaemon], tmp_path: Path) -> None:
    """Claude Code's pattern through the daemon: a Task call, the subagent's own conversation, the
    Task's result; plus OpenAI Chat and Responses clients translated to Anthropic, streamed."""
    import openai

    daemon = daemon_factory()
    ant = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    meta = {"user_id": f"user_abc_account_def_session_{SESSION_REAL}"}
    opening = {"role": "user", "content": "The server ignores the port; fix it"}
    with ant.messages.stream(model="claude-test", max_tokens=64, tools=[TASK_TOOL],  # type: ignore[list-item]
                             metadata=meta, messages=[opening]) as stream:  # type: ignore[list-item]
        first = stream.get_final_message()
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "Task"
    with ant.messages.stream(model="claude-test", max_tokens=64, metadata=meta,  # type: ignore[arg-type]
                             messages=[{"role": "user", "content": "Find where the port is dropped"}]) as stream:
        stream.get_final_message()
    ant.messages.create(model="claude-test", max_tokens=64, tools=[TASK_TOOL], metadata=meta,  # type: ignore[list-item, arg-type]
                        messages=[opening, {"role": "assistant", "content": first.content},  # type: ignore[list-item]
                                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                                "content": "config.py line 12"}]}])
    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    chunks = list(oai.chat.completions.create(model="claude-test", stream=True, stream_options={"include_usage": True},
                                              messages=[{"role": "user", "content": "translated chat"}]))
    assert chunks
    events = list(oai.responses.create(model="claude-test", stream=True, input="translated responses"))
    assert events
    wait_for(lambda: len(json.loads(daemon.cli("flows", "list", "--json").stdout)) == 5, 30, what="5 flows stored")

    res = daemon.cli("flows", "tree", "--json")
    assert res.returncode == 0, res.stderr
    sessions = {s["session_id"]: s for s in json.loads(res.stdout)}
    main, = sessions[SESSION_REAL]["conversations"]
    assert [t["kind"] for t in main["turns"]] == ["start", "continue"]
    assert main["turns"][0]["tool_uses"] == ["Task"] and main["turns"][0]["streamed"] is True
    (sub,) = main["turns"][0]["children"]
    assert sub["title"] == "Find where the port is dropped" and sub["subagent"]["tool"] == "Task"
    assert main["totals_with_subagents"]["turns"] == 3

    res = daemon.cli("flows", "lint")
    assert res.returncode == 0, res.stdout + res.stderr  # every stream, both sides of each transform, is valid
    lint = json.loads(daemon.cli("flows", "lint", "--json").stdout)
    formats = sorted((r["upstream"]["format"], r["client"]["format"]) for r in lint)
    assert formats == [("anthropic", "anthropic"), ("anthropic", "anthropic"),
                       ("anthropic", "openai_chat"), ("anthropic", "openai_responses")]

    res = daemon.cli("flows", "export", "--html", str(tmp_path / "real.html"))
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "real.html").read_text()
    assert "Find where the port is dropped" in html
    assert f'"mitmweb":"{daemon.inspector_url}"' in html  # recorded, but the page offers no link: its reader has no such port
    assert not [v for v in SECRETS.values() if v in html]
