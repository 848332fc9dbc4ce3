"""Shapes and the jail: a jailed client's capture becomes a shape; its own-key traffic is left alone,
its sentinel-key traffic (credential injected) is shaped."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.daemon import SECRETS, RunningDaemon, deep_merge, make_daemon
from tests.fakes.provider import FakeProvider
from tests.namespace.fixtures import UpstreamHost, jail_config, requires_jail, wait_flow

pytestmark = [pytest.mark.namespace, requires_jail]

OWN_KEY = "sk-client-own-key-4242"


@pytest.fixture(scope="module")
def shape_jail(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider,
               test_host: UpstreamHost) -> Iterator[RunningDaemon]:
    config = deep_merge(jail_config(test_host, stop_timeout=2), {
        "providers": {"jailapi": {"provider": "anthropic", "host": test_host.address, "scheme": "https",
                                  "path": "/json", "auth": {"type": "env", "env": "FAKE_ANTHROPIC_KEY"}}},
        "hooks": {"outbound": ["ccproxy.hooks.shape"]},
        "shaping": {"providers": {"jailapi": {"capture": {"path_pattern": "^/json$"}, "shape_hooks": []}}},
    })
    daemon = make_daemon(tmp_path_factory.mktemp("shapejail"), _fake_session.host, config).start()
    yield daemon
    daemon.stop()


def post_in_jail(daemon: RunningDaemon, url: str, key: str, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST from inside the jail; returns what the test host echoed (the request as it arrived there)."""
    code = textwrap.dedent(f"""
        import httpx, json, sys
        r = httpx.post({url!r}, json={body!r}, timeout=20,
                       headers={{"x-api-key": {key!r}, "user-agent": {agent!r}, "x-client-marker": {agent!r}}})
        print(r.status_code)
        print(r.text)
    """)
    done = daemon.cli("run", "--inspect", "--", sys.executable, "-c", code, timeout=90)
    assert done.returncode == 0, done.stderr
    status, text = done.stdout.split("\n", 1)
    assert status.strip() == "200", done.stdout
    echoed: dict[str, Any] = json.loads(text)
    return echoed


def header(echo: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in echo["headers"] if k.lower() == name), None)


def test_jailed_traffic_with_its_own_key_is_left_alone_and_injected_traffic_is_shaped(
        shape_jail: RunningDaemon, test_host: UpstreamHost) -> None:
    marker = uuid.uuid4().hex[:12]
    captured_body = {"model": "m-captured", "messages": [{"role": "user", "content": "capture"}],
                     "metadata": {"user_id": "captured-user"}}
    url = f"{test_host.url}/json?m={marker}"
    post_in_jail(shape_jail, url + "&step=capture", OWN_KEY, "shape-capture/1.0", captured_body)
    flow = wait_flow(shape_jail, f"/json?m={marker}&step=capture")
    assert flow["ccproxy"]["source"] == "wireguard" and flow["ccproxy"]["auth_injected"] is False
    assert flow["ccproxy"]["shape"]["applied"] is False
    save = shape_jail.cli("shapes", "save", "jailapi")
    assert save.returncode == 0, save.stderr
    shape = json.loads((shape_jail.config_dir / "shapes" / "jailapi.json").read_text())
    assert shape["source"]["flow_id"] == flow["id"] and OWN_KEY not in json.dumps(shape)
    assert shape["request"]["body"] == {"metadata": {"user_id": "captured-user"}}

    own_body = {"model": "m-own", "messages": [{"role": "user", "content": "own"}], "metadata": {"user_id": "own"}}
    echo = post_in_jail(shape_jail, url + "&step=own", OWN_KEY, "other-client/2.0", own_body)
    assert header(echo, "user-agent") == "other-client/2.0" and header(echo, "x-api-key") == OWN_KEY
    assert header(echo, "x-client-marker") == "other-client/2.0" and json.loads(echo["body"]) == own_body
    record = wait_flow(shape_jail, f"/json?m={marker}&step=own")["ccproxy"]["shape"]
    assert record["applied"] is False and "wireguard" in record["reason"]

    live = {"model": "m-live", "messages": [{"role": "user", "content": "live"}], "metadata": {"user_id": "x"}}
    echo = post_in_jail(shape_jail, url + "&step=sentinel", "sk-ant-oat-ccproxy-jailapi", "other-client/2.0", live)
    assert header(echo, "user-agent") == "shape-capture/1.0" and header(echo, "x-client-marker") == "shape-capture/1.0"
    assert header(echo, "x-api-key") == SECRETS["FAKE_ANTHROPIC_KEY"]
    sent = json.loads(echo["body"])
    assert sent["messages"] == live["messages"] and sent["model"] == "m-live"
    assert sent["metadata"] == {"user_id": "captured-user"}
    record = wait_flow(shape_jail, f"/json?m={marker}&step=sentinel")["ccproxy"]
    assert record["source"] == "wireguard" and record["auth_injected"] is True
    assert record["shape"]["applied"] is True and record["shape"]["provider"] == "jailapi"
