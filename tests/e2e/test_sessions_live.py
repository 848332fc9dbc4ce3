"""A long agent session through a real daemon: stored flows leave their bodies to the store, and every
session view (CLI, the live viewer's data, mitmweb's content views) still shows them.

Real Anthropic SDK traffic against the suite's fake provider: each turn re-sends the whole
conversation plus a ~60 KB tool result, like an agent reading files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic

from ccproxy.addons.view import KEEP_LOADED
from tests.daemon import RunningDaemon, wait_for
from tests.e2e.test_flows_store import wait_count, web_get
from tests.e2e.test_viewer import get

Factory = Callable[..., RunningDaemon]
TURNS = KEEP_LOADED + 8


def run_session(daemon: RunningDaemon, turns: int) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "refactor the store module"}]
    for i in range(turns):
        answer = client.messages.create(model="claude-test", max_tokens=16, messages=messages,
                                        system=[{"type": "text", "text": "You are an agent. " * 200,
                                                 "cache_control": {"type": "ephemeral"}}])
        messages = [*messages, {"role": "assistant", "content": [b.model_dump() for b in answer.content]},
                    {"role": "user", "content": f"file {i}: " + f"line {i} of the file. " * 3000}]


def test_a_long_session_is_served_from_the_store_not_from_memory(daemon_factory: Factory) -> None:
    daemon = daemon_factory()
    run_session(daemon, TURNS)
    ids = wait_count(daemon, TURNS)
    run_session(daemon, 1)  # one more response: the view drops the stored flows' bodies
    wait_count(daemon, TURNS + 1)

    listed = {f["id"]: f for f in web_get(daemon, "/flows")}
    unloaded = [i for i in ids if listed[i]["request"]["contentLength"] is None]
    assert len(unloaded) >= TURNS - KEEP_LOADED  # older flows hold no body in the daemon
    assert listed[ids[-1]]["request"]["contentLength"]  # the newest keep theirs
    old = unloaded[-1]
    body = json.loads(web_get(daemon, f"/flows/{old}/request/content.data", raw=True))
    assert body["messages"][0]["content"] == "refactor the store module"
    view = web_get(daemon, f"/flows/{old}/request/content/Client%20Request.json")
    assert "refactor the store module" in view["text"]

    tree = json.loads(daemon.cli("flows", "tree", "--json").stdout)
    (session,) = tree
    convs = session["conversations"]
    main = next(c for c in convs if c["title"] == "refactor the store module")
    # the last request re-sent the opening alone: a retry of turn 0
    assert [t["kind"] for t in main["turns"]] == ["start"] + ["continue"] * (TURNS - 1) + ["retry"]

    res = daemon.cli("flows", "turndiff", ids[3], "--json")
    assert res.returncode == 0, res.stderr
    diff = json.loads(res.stdout)
    assert diff["against"] == ids[2] and ("added", "messages[6]") in {(e["op"], e["path"]) for e in diff["entries"]}

    token = daemon.state["web_token"]
    status, blob = get(daemon.inspector_url + "/ccproxy/api/data", token)
    assert status == 200
    data = json.loads(blob)
    assert data["flows"][ids[3]]["diff"]["against"] == ids[2] and "entries" not in data["flows"][ids[3]]["diff"]
    status, detail = get(daemon.inspector_url + f"/ccproxy/api/flow/{ids[3]}", token)
    assert status == 200
    assert json.loads(detail)["diff"]["counts"]["added"] >= 2
    wait_for(lambda: daemon.proc is not None and daemon.proc.poll() is None, 5, what="daemon still serving")
