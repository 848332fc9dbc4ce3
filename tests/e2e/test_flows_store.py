"""The flow store through the daemon: persistence across restarts, retention, clear, default filters."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import anthropic
import openai

from ccproxy.store.db import FlowStore
from tests.daemon import RunningDaemon, wait_for
from tests.store.factory import make_record

Factory = Callable[..., RunningDaemon]


def list_ids(daemon: RunningDaemon, *jq: str) -> list[str]:
    res = daemon.cli("flows", "list", "--json", *[a for f in jq for a in ("--jq", f)])
    assert res.returncode == 0, res.stderr
    return [f["id"] for f in json.loads(res.stdout)]


def wait_ids(daemon: RunningDaemon, ok: Callable[[list[str]], bool], what: str) -> list[str]:
    """Poll `flows list --json` (bounded) until its ids satisfy `ok`."""
    found: list[list[str]] = []

    def check() -> bool:
        found[:] = [list_ids(daemon)]
        return ok(found[0])

    wait_for(check, timeout=20, what=what)
    return found[0]


def wait_count(daemon: RunningDaemon, n: int) -> list[str]:
    return wait_ids(daemon, lambda ids: len(ids) == n, f"{n} stored flows")


def ask(daemon: RunningDaemon, text: str, model: str = "claude-test") -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    with contextlib.suppress(anthropic.APIStatusError):  # the error models answer 4xx/5xx on purpose
        client.messages.create(model=model, max_tokens=16, messages=[{"role": "user", "content": text}])


def mitmweb_ids(daemon: RunningDaemon) -> set[str]:
    req = urllib.request.Request(daemon.inspector_url + "/flows",
                                 headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        flows: list[dict[str, Any]] = json.load(resp)
    return {f["id"] for f in flows if f["request"]["path"] != "/health"}


def web_get(daemon: RunningDaemon, path: str, raw: bool = False) -> Any:
    req = urllib.request.Request(daemon.inspector_url + path,
                                 headers={"authorization": f"Bearer {daemon.state['web_token']}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        data = resp.read()
    return data if raw else json.loads(data)


def test_flows_survive_a_restart_and_are_readable_while_stopped(daemon_factory: Factory) -> None:
    daemon = daemon_factory()
    ask(daemon, "first")
    ask(daemon, "second")
    before = wait_count(daemon, 2)
    daemon.stop()
    assert list_ids(daemon) == before, "the CLI reads the store with the daemon stopped"
    shown = daemon.cli("flows", "show", before[0][:8])
    assert shown.returncode == 0 and '"content": "first"' in shown.stdout
    daemon.start()
    wait_for(lambda: set(before) <= mitmweb_ids(daemon), timeout=10, what="stored flows back in mitmweb")
    # Restored as summaries (mitmweb's list reads no body), the body read from the store when opened.
    listed = {f["id"]: f for f in web_get(daemon, "/flows")}
    assert listed[before[0]]["request"]["contentLength"] is None
    body = web_get(daemon, f"/flows/{before[0]}/request/content.data", raw=True)
    assert json.loads(body)["messages"][0]["content"] == "first"
    view = web_get(daemon, f"/flows/{before[0]}/request/content/Client%20Request.json")
    assert '"content": "first"' in view["text"]
    ask(daemon, "third")
    after = wait_count(daemon, 3)
    assert after[:2] == before
    for path in daemon.config_dir.glob("flows.sqlite3*"):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_retention_by_count_and_by_age(daemon_factory: Factory) -> None:
    daemon = daemon_factory(config={"flows": {"retention": {"max_count": 3, "max_age_days": 1}}}, start=False)
    daemon.config_dir.mkdir(parents=True)
    now = time.time()
    old, fresh = make_record(ts=now - 3 * 86400), make_record(ts=now - 3600)
    with FlowStore(daemon.config_dir / "flows.sqlite3", create=True) as store:
        store.put([old, fresh])
    daemon.start()
    assert wait_count(daemon, 1) == [fresh.id], "flows older than max_age_days go at start-up"
    for i in range(4):
        ask(daemon, f"message {i}")
    kept = wait_ids(daemon, lambda ids: len(ids) == 3 and fresh.id not in ids, "only the newest 3 flows")
    shown = [json.loads(daemon.cli("flows", "show", fid, "--json").stdout)["bodies"]["client_request"]
             for fid in kept]
    assert ['"message 1"' in s for s in shown] == [True, False, False]
    assert '"message 3"' in shown[-1]


def test_clear_a_set_then_everything_from_store_and_mitmweb(daemon_factory: Factory) -> None:
    daemon = daemon_factory()
    for text in ("keep-1", "keep-2"):
        ask(daemon, text)
    ask(daemon, "SECRET-MARKER-goes-away", model="claude-error-500")
    ask(daemon, "SECRET-MARKER-goes-away", model="claude-error-429")
    ids = wait_count(daemon, 4)
    wait_for(lambda: set(ids) <= mitmweb_ids(daemon), timeout=10, what="flows in mitmweb")

    res = daemon.cli("flows", "clear", "--jq", "map(select(.response.status_code >= 400))")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "cleared 2 flow(s) from the store and the daemon"
    assert list_ids(daemon) == ids[:2]
    assert mitmweb_ids(daemon) == set(ids[:2])
    files = b"".join(p.read_bytes() for p in daemon.config_dir.glob("flows.sqlite3*"))
    assert b"SECRET-MARKER-goes-away" not in files
    assert ids[2].encode() not in files and ids[3].encode() not in files

    res = daemon.cli("flows", "clear", "--all")
    assert res.stdout.strip() == "cleared 2 flow(s) from the store and the daemon"
    assert list_ids(daemon) == [] and mitmweb_ids(daemon) == set()
    ask(daemon, "after clear")
    assert len(wait_count(daemon, 1)) == 1, "the store keeps working after a clear"


def test_clear_with_the_daemon_stopped(daemon_factory: Factory) -> None:
    daemon = daemon_factory()
    ask(daemon, "one")
    wait_count(daemon, 1)
    daemon.stop()
    res = daemon.cli("flows", "clear", "--all")
    assert res.returncode == 0 and res.stdout.strip() == "cleared 1 flow(s) from the store (no daemon running)"
    assert list_ids(daemon) == []


def test_default_filters_shape_every_command_but_clear_all(daemon_factory: Factory) -> None:
    only_openai = 'map(select(.ccproxy.provider == "openai"))'
    daemon = daemon_factory(config={"flows": {"default_jq_filters": [only_openai]}})
    ask(daemon, "to anthropic")
    oai = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    oai.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "to openai"}])
    ids = wait_count(daemon, 1)
    har = json.loads(daemon.cli("flows", "dump").stdout)
    assert [p["id"] for p in har["log"]["pages"]] == ids
    res = daemon.cli("flows", "diff")
    assert res.returncode == 2 and "got 1" in res.stderr
    res = daemon.cli("flows", "clear")
    assert res.stdout.startswith("cleared 1 flow(s)")
    with FlowStore(daemon.config_dir / "flows.sqlite3") as store:
        assert store.count() == 1, "the anthropic flow is outside the set, so it stays"
    res = daemon.cli("flows", "clear", "--all")
    assert res.stdout.startswith("cleared 1 flow(s)")
    with FlowStore(daemon.config_dir / "flows.sqlite3") as store:
        assert store.count() == 0


def test_a_broken_default_filter_is_a_config_level_usage_error(daemon_factory: Factory) -> None:
    daemon = daemon_factory(config={"flows": {"default_jq_filters": ["map(.[-1])"]}})
    ask(daemon, "x")

    def stored() -> int:
        path = daemon.config_dir / "flows.sqlite3"
        if not path.exists():
            return 0
        with FlowStore(path) as store:
            return store.count()

    wait_for(stored, timeout=20, what="the flow in the store")  # over no flows at all, map() would not fail
    res = daemon.cli("flows", "list")
    assert res.returncode == 2
    assert "flows.default_jq_filters[0] 'map(.[-1])'" in res.stderr and "Cannot index object" in res.stderr


def test_a_disk_budget_evicts_old_bodies_and_keeps_their_flows(daemon_factory: Factory) -> None:
    """A store over `max_disk_mb`: the daemon's writer drops the oldest bodies, keeps every flow listed."""
    daemon = daemon_factory(config={"flows": {"retention": {"max_disk_mb": 0.5}}}, start=False)
    daemon.config_dir.mkdir(parents=True)
    now = time.time()
    seeded = [make_record(ts=now - 600 + i, body={"model": "m", "pad": os.urandom(10_000).hex()}) for i in range(60)]
    with FlowStore(daemon.config_dir / "flows.sqlite3", create=True) as store:
        store.put(seeded)  # ~1.2 MB of bodies that do not compress
    daemon.start()
    ask(daemon, "after the budget")
    ids = wait_count(daemon, 61)
    assert ids[:60] == [r.id for r in seeded]

    def evicted() -> list[str]:
        res = daemon.cli("flows", "list", "--json", "--jq", "map(select(.ccproxy.bodies_evicted))")
        return [f["id"] for f in json.loads(res.stdout)] if res.returncode == 0 else []

    gone = wait_for(evicted, timeout=20, what="old bodies evicted by the disk budget")
    assert gone == ids[: len(gone)] and ids[-1] not in gone
    shown = daemon.cli("flows", "show", gone[0][:8])
    assert shown.returncode == 0 and "bodies evicted by the disk budget" in shown.stdout
    assert "Traceback" not in shown.stderr
    newest = daemon.cli("flows", "show", ids[-1], "--json")
    assert '"after the budget"' in json.loads(newest.stdout)["bodies"]["client_request"]
    wait_for(lambda: "the disk budget (flows.retention.max_disk_mb) evicted the bodies of" in daemon.log_text(),
             timeout=10, what="the eviction logged")
    assert len(list_ids(daemon)) == 61
