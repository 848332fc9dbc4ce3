"""Shapes end to end: capture a real SDK request through the daemon, save, audit, replay it.

One daemon serves the module: the Anthropic SDK's request is captured and saved as the shape,
then OpenAI SDK (transformed), curl (redirected by a rule) and Anthropic SDK (routed to a
second provider with another merge strategy) requests are replayed in that envelope.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from mitmproxy import http
from mitmproxy import io as mio

from tests.daemon import SECRETS, RunningDaemon, make_daemon, wait_for
from tests.fakes.provider import FakeProvider, RecordedRequest

CAPTURED_SESSION = str(uuid.UUID(int=0x0B6F5C2E1D2A4E8F9A3B5C6D7E8F9A0B))
USER_ID = json.dumps({"device_id": "dev-1234abcd", "account_uuid": "acct-5678", "session_id": CAPTURED_SESSION})
PREAMBLE = {"type": "text", "text": "You are the captured client.", "cache_control": {"type": "ephemeral"}}
CAPTURED_SYSTEM = [PREAMBLE, {"type": "text", "text": "Captured user system.", "cache_control": {"type": "ephemeral"}}]
BETA = "shape-e2e-beta-2025-01-01"
SHAPE_HOOKS = [
    "ccproxy.shapes.ids",
    {"hook": "ccproxy.shapes.cache.cache_strip", "params": {"paths": ["system.*.cache_control"]}},
    {"hook": "ccproxy.shapes.cache.cache_insert", "params": {"path": "system.-1.cache_control"}},
]


def shapes_config(fake_host: str) -> dict[str, Any]:
    second = {"provider": "anthropic", "host": fake_host, "scheme": "http",
              "auth": {"type": "env", "env": "FAKE_ANTHROPIC_KEY"}}
    return {
        "providers": {"anthro2": second},
        "hooks": {"outbound": ["ccproxy.hooks.shape"]},
        "inspector": {"transforms": [
            {"match_path": "^/v1/messages$", "match_model": "^redirect-", "action": "redirect",
             "dest_provider": "anthropic"},
        ]},
        "shaping": {"providers": {
            "anthropic": {"merge_strategies": {"system": "prepend_shape:1", "temperature": "drop"},
                          "shape_hooks": SHAPE_HOOKS},
            "anthro2": {"merge_strategies": {"system": "append_shape:1"}, "shape_hooks": []},
        }},
    }


@dataclass
class Captured:
    daemon: RunningDaemon
    flow: dict[str, Any]  # the capture's flow JSON
    seen: RecordedRequest  # what the provider got from the capturing SDK
    save: subprocess.CompletedProcess[str]

    @property
    def shapes(self) -> Path:
        return self.daemon.config_dir / "shapes"


def list_json(daemon: RunningDaemon, *jq: str) -> list[dict[str, Any]]:
    done = daemon.cli("flows", "list", "--json", *[a for f in jq for a in ("--jq", f)])
    assert done.returncode == 0, done.stderr
    flows: list[dict[str, Any]] = json.loads(done.stdout)
    return flows


def recorded(daemon: RunningDaemon, count: int) -> list[dict[str, Any]]:
    """The store once it holds `count` flows (the recorder writes asynchronously)."""
    flows: list[dict[str, Any]] = wait_for(lambda: (f := list_json(daemon)) and len(f) >= count and f,
                                           15, 0.1, f"{count} recorded flows")
    return flows


def capture(daemon: RunningDaemon, fake: FakeProvider) -> tuple[dict[str, Any], RecordedRequest]:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    before = len(list_json(daemon))
    msg = client.messages.create(
        model="claude-test", max_tokens=64, system=CAPTURED_SYSTEM,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "the captured prompt"}],
        metadata={"user_id": USER_ID},
        extra_headers={"anthropic-beta": BETA, "x-session-marker": CAPTURED_SESSION},
    )
    assert msg.content[0].type == "text"
    return recorded(daemon, before + 1)[-1], fake.requests[-1]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[Captured]:
    daemon = make_daemon(tmp_path_factory.mktemp("shapes"), _fake_session.host,
                         shapes_config(_fake_session.host)).start()
    try:
        flow, seen = capture(daemon, _fake_session)
        yield Captured(daemon, flow, seen, daemon.cli("shapes", "save", "anthropic"))
    finally:
        daemon.stop()


def test_capture_was_not_shaped_and_save_writes_a_private_envelope(captured: Captured) -> None:
    assert captured.flow["ccproxy"]["shape"]["applied"] is False
    assert "no shape saved for 'anthropic'" in captured.flow["ccproxy"]["shape"]["reason"]
    assert captured.save.returncode == 0, captured.save.stderr
    path = captured.shapes / "anthropic.json"
    assert f"from flow {captured.flow['id'][:8]}" in captured.save.stdout and str(path) in captured.save.stdout
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    for secret in (*SECRETS.values(), "sk-ant-oat-ccproxy", "the captured prompt", "Captured user system"):
        assert secret not in text
    doc = json.loads(text)
    req = doc["request"]
    names = [k.lower() for k, _ in req["headers"]]
    sdk_names = [k.lower() for k, _ in captured.seen.header_list]
    assert names == [n for n in sdk_names if n not in ("host", "x-api-key", "content-length", "connection")]
    headers = {k.lower(): v for k, v in req["headers"]}
    assert headers["anthropic-beta"] == BETA and headers["user-agent"] == captured.seen.headers["user-agent"]
    assert headers["user-agent"].startswith("Anthropic/Python")
    assert req["body"] == {"system": [PREAMBLE], "metadata": {"user_id": USER_ID}}
    assert req["key_order"] == list(captured.seen.json)
    assert doc["source"]["flow_id"] == captured.flow["id"] and doc["source"]["status_code"] == 200


def test_list_show_and_audit(captured: Captured) -> None:
    daemon = captured.daemon
    done = daemon.cli("shapes", "list", "--json")
    assert done.returncode == 0, done.stderr
    [entry] = json.loads(done.stdout)
    assert (entry["provider"], entry["form"], entry["flow_id"]) == ("anthropic", "json", captured.flow["id"])
    assert entry["body_keys"] == [k for k in captured.seen.json if k in ("system", "metadata")]  # the SDK's order
    listed = daemon.cli("shapes", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("anthropic    json  " + captured.flow["id"][:8])
    shown = daemon.cli("shapes", "show", "anthropic")
    assert shown.returncode == 0 and f"anthropic-beta: {BETA}" in shown.stdout
    assert daemon.cli("shapes", "show", "gemini").returncode == 1
    audit = daemon.cli("shapes", "audit")
    assert audit.returncode == 0 and audit.stdout.startswith("ok ")
    report = json.loads(daemon.cli("shapes", "audit", "--json").stdout)
    assert report["ok"] is True and report["files"][0]["problems"] == []


def test_audit_names_a_broken_shape_and_exits_1(captured: Captured) -> None:
    broken = captured.shapes / "gemini.json"
    doc = json.loads((captured.shapes / "anthropic.json").read_text())
    doc["response"] = {"status_code": 200}
    doc["request"]["headers"].append(["Cookie", "sid=1"])
    broken.write_text(json.dumps(doc))
    broken.chmod(0o600)
    try:
        done = captured.daemon.cli("shapes", "audit")
        assert done.returncode == 1
        assert f"FAIL  {broken}: [request_only]" in done.stdout
        assert f"FAIL  {broken}: [no_credentials] header 'Cookie'" in done.stdout
        assert f"FAIL  {broken}: [capture_pattern]" in done.stdout  # a messages path is no Gemini endpoint
        assert f"ok    {captured.shapes / 'anthropic.json'}" in done.stdout
        report = json.loads(captured.daemon.cli("shapes", "audit", "--json").stdout)
        assert report["ok"] is False
        bad = next(f for f in report["files"] if f["provider"] == "gemini")
        assert {p["invariant"] for p in bad["problems"]} >= {"request_only", "no_credentials"}
    finally:
        broken.unlink()


def system_breakpoints(body: dict[str, Any]) -> list[bool]:
    return ["cache_control" in block for block in body["system"]]


def last_shaped(daemon: RunningDaemon, count: int) -> dict[str, Any]:
    return recorded(daemon, count)[-1]["ccproxy"]


def test_transformed_openai_request_goes_out_in_the_captured_envelope(captured: Captured,
                                                                     fake_provider: FakeProvider) -> None:
    daemon = captured.daemon
    count = len(list_json(daemon))
    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    out = client.chat.completions.create(
        model="claude-test", temperature=0.2,
        messages=[{"role": "system", "content": "Live system."}, {"role": "user", "content": "live hello"}],
    )
    assert out.choices[0].message.content == "Hello from the fake provider."
    seen = fake_provider.requests[-1]
    assert seen.path == "/v1/messages" and seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]
    assert seen.headers["user-agent"] == captured.seen.headers["user-agent"]  # the Anthropic SDK's, not OpenAI's
    assert seen.headers["anthropic-beta"] == BETA
    sdk_order = [k.lower() for k, _ in captured.seen.header_list]
    assert [k.lower() for k, _ in seen.header_list] == sdk_order
    body = seen.json
    assert body["system"][0]["text"] == PREAMBLE["text"] and body["system"][1]["text"] == "Live system."
    assert system_breakpoints(body) == [False, True]
    assert "the captured prompt" not in json.dumps(body) and "live hello" in json.dumps(body["messages"])
    assert "temperature" not in body
    user = json.loads(body["metadata"]["user_id"])
    assert (user["device_id"], user["account_uuid"]) == ("dev-1234abcd", "acct-5678")
    assert user["session_id"] != CAPTURED_SESSION and seen.headers["x-session-marker"] == user["session_id"]
    flow = recorded(daemon, count + 1)[-1]
    record = flow["ccproxy"]
    assert record["transform"]["mode"] == "transform"
    shape = record["shape"]
    assert shape["applied"] is True and shape["file"] == str(captured.shapes / "anthropic.json")
    assert shape["fields"]["system"] == "shape+incoming" and shape["fields"]["messages"] == "incoming"
    assert shape["fields"]["metadata"] == "shape" and shape["fields"]["temperature"] == "dropped"
    assert shape["hooks"] == ["regenerate_ids", "cache_strip", "cache_insert"]
    assert [h["name"] for h in record["hooks"] if h["stage"] == "shape"] == shape["hooks"]
    compared = daemon.cli("flows", "compare", "--jq", f'map(select(.id == "{flow["id"]}" or .id == "{captured.flow["id"]}"))')
    assert compared.returncode == 0, compared.stderr
    assert f"shape: applied {captured.shapes / 'anthropic.json'} (json); fields: " in compared.stdout
    assert "system<-shape+incoming" in compared.stdout and "metadata<-shape" in compared.stdout
    assert "shape: not applied (no shape saved for 'anthropic'" in compared.stdout  # the capture itself
    as_json = json.loads(daemon.cli("flows", "compare", "--json", "--jq", ".[-1:]").stdout)
    assert as_json[0]["shape"]["applied"] is True


def test_redirected_curl_request_is_shaped(captured: Captured, fake_provider: FakeProvider) -> None:
    daemon = captured.daemon
    count = len(list_json(daemon))
    body = {"model": "redirect-me", "max_tokens": 10, "messages": [{"role": "user", "content": "from curl"}],
            "system": [{"type": "text", "text": "curl system", "cache_control": {"type": "ephemeral"}}]}
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-H", "content-type: application/json", "-d", json.dumps(body),
         daemon.proxy_url + "/v1/messages"], capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["type"] == "message", done.stdout + done.stderr
    seen = fake_provider.requests[-1]
    assert seen.headers["user-agent"] == captured.seen.headers["user-agent"]
    assert seen.headers["x-api-key"] == SECRETS["FAKE_ANTHROPIC_KEY"]
    assert seen.json["model"] == "redirect-me" and seen.json["messages"] == body["messages"]
    assert [b["text"] for b in seen.json["system"]] == [PREAMBLE["text"], "curl system"]
    assert system_breakpoints(seen.json) == [False, True]
    record = last_shaped(daemon, count + 1)
    assert record["transform"]["mode"] == "redirect" and record["shape"]["applied"] is True


def test_append_profile_with_a_jq_selected_capture(captured: Captured, fake_provider: FakeProvider) -> None:
    daemon = captured.daemon
    jq = f'map(select(.id == "{captured.flow["id"]}"))'
    save = daemon.cli("shapes", "save", "anthro2", "--jq", jq)
    assert save.returncode == 0, save.stderr
    saved = json.loads((captured.shapes / "anthro2.json").read_text())
    assert saved["source"]["flow_id"] == captured.flow["id"]
    assert saved["request"]["body"]["system"] == [PREAMBLE]  # append_shape:1 keeps one shape item
    count = len(list_json(daemon))
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthro2", max_retries=0)
    client.messages.create(model="claude-test", max_tokens=8, system="Live second.",
                           messages=[{"role": "user", "content": "second"}])
    seen = fake_provider.requests[-1]
    assert seen.json["system"] == [{"type": "text", "text": "Live second."}, PREAMBLE]  # no cache hooks here
    assert seen.json["metadata"] == {"user_id": USER_ID}  # no ids hook: the captured session stays
    shape = last_shaped(daemon, count + 1)["shape"]
    assert shape["provider"] == "anthro2" and shape["fields"]["system"] == "incoming+shape"


def test_save_errors(captured: Captured) -> None:
    missing = captured.daemon.cli("shapes", "save", "gemini")
    assert missing.returncode == 1
    assert "gemini.capture.path_pattern" in missing.stderr and "2xx" in missing.stderr
    unknown = captured.daemon.cli("shapes", "save", "nobody")
    assert unknown.returncode == 2 and "no provider named 'nobody'" in unknown.stderr
    bad_jq = captured.daemon.cli("shapes", "save", "anthropic", "--jq", "map(select(")
    assert bad_jq.returncode == 2 and "--jq #1" in bad_jq.stderr


def test_mflow_form_round_trips_and_replays(daemon_factory: Any, fake_provider: FakeProvider) -> None:
    daemon = daemon_factory(shapes_config(fake_provider.host))
    flow, seen = capture(daemon, fake_provider)
    done = daemon.cli("shapes", "save", "anthropic", "--mflow")
    assert done.returncode == 0, done.stderr
    path = daemon.config_dir / "shapes" / "anthropic.mflow"
    assert path.stat().st_mode & 0o777 == 0o600 and not (daemon.config_dir / "shapes" / "anthropic.json").exists()
    with path.open("rb") as fh:
        [read] = list(mio.FlowReader(fh).stream())
    assert isinstance(read, http.HTTPFlow) and read.response is None
    assert read.request.headers["user-agent"] == seen.headers["user-agent"] and "x-api-key" not in read.request.headers
    assert read.request.json() == {"system": [PREAMBLE], "metadata": {"user_id": USER_ID}}
    assert daemon.cli("shapes", "audit").returncode == 0
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    client.messages.create(model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "again"}])
    assert fake_provider.requests[-1].headers["anthropic-beta"] == BETA
    shape = recorded(daemon, 2)[-1]["ccproxy"]["shape"]
    assert shape["applied"] is True and shape["form"] == "mflow" and shape["captured_from"] == flow["id"]
