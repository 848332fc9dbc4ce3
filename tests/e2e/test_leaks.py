"""Hardening against leaks, end to end: what a flow holds never reaches the log, the sentinel never
reaches a provider from a body field, an oversized request head is refused, the log rotates."""

from __future__ import annotations

import contextlib
import io
import json
import stat
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from mitmproxy import io as mio

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

SECRET = "client-own-api-key-d41d8cd98f"
PROMPT_SECRET = "prompt-only-the-client-knows-0c7b"


def web_get(daemon: RunningDaemon, path: str, token: bool = True) -> tuple[int, bytes, str]:
    headers = {"authorization": f"Bearer {daemon.state['web_token']}"} if token else {}
    req = urllib.request.Request(daemon.inspector_url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return int(resp.status), resp.read(), str(resp.headers.get("content-type", ""))
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(), str(exc.headers.get("content-type", ""))


def stored_flows(daemon: RunningDaemon) -> list[dict[str, Any]]:
    out = daemon.cli("flows", "list", "--json")
    assert out.returncode == 0, out.stderr
    flows: list[dict[str, Any]] = json.loads(out.stdout)
    return flows


def test_mitmweb_dump_answers_and_writes_no_flow_content_to_the_log(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0,
                                 default_headers={"x-client-secret": SECRET})
    client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": PROMPT_SECRET}])
    query = "/flows/dump?" + urllib.parse.urlencode({"filter": "~u /v1/messages"})
    wait_for(lambda: b"/v1/messages" in web_get(daemon, "/flows")[1], 10, 0.05, "the flow in mitmweb's view")

    status, body, ctype = web_get(daemon, query)
    log = daemon.log_text()
    assert SECRET not in log and PROMPT_SECRET not in log
    assert status == 200, (status, body[:300])
    assert ctype == "application/octet-stream"
    flows = list(mio.FlowReader(io.BytesIO(body)).stream())
    assert [f.request.path for f in flows] == ["/v1/messages"]
    flow: Any = flows[0]
    assert flow.request.headers["x-client-secret"] == "[REDACTED]" and SECRET.encode() not in body
    assert flow.metadata["ccproxy"]["provider"] == "anthropic"
    assert web_get(daemon, "/flows/dump")[0] == 200  # the whole view, the /health flows included

    assert web_get(daemon, query, token=False)[0] == 403
    status, body, ctype = web_get(daemon, "/flows/dump?filter=~q%20(")
    assert status == 400 and ctype == "application/json"
    assert json.loads(body)["error"]["type"] == "ccproxy_dump_error"


def test_a_sentinel_in_a_body_field_never_reaches_the_provider(
    daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    sdk = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key="sk-ant-oat-ccproxy-openai", max_retries=0)
    with pytest.raises(openai.InternalServerError) as refused:
        sdk.chat.completions.create(model="g", messages=[{"role": "user", "content": "hi"}],
                                    extra_body={"api_key": "sk-ant-oat-ccproxy-openai"})
    assert refused.value.status_code == 502 and "request body" in str(refused.value)
    form = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-H", "x-api-key: sk-ant-oat-ccproxy-anthropic",
         "-d", "grant_type=refresh_token&refresh_token=sk-ant-oat-ccproxy-anthropic", daemon.proxy_url + "/v1/messages"],
        capture_output=True, text=True, timeout=30,
    )
    assert json.loads(form.stdout)["error"]["type"] == "ccproxy_sentinel_error"
    # quoted in a prompt, the sentinel is text (ccproxy's own docs quote it) and goes through
    quoted = "my README says api_key=sk-ant-oat-ccproxy-anthropic"
    assert sdk.chat.completions.create(model="g", messages=[{"role": "user", "content": quoted}]).choices

    assert len(fake_provider.requests) == 1
    for req in fake_provider.requests:
        assert req.credential() and "ccproxy" not in (req.credential() or "")
        assert all("sk-ant-oat-ccproxy" not in v for v in req.headers.values())
        assert req.json["messages"][0]["content"] == quoted and "api_key" not in req.json
    wait_for(lambda: len(stored_flows(daemon)) >= 3, 10, 0.1, "three recorded flows")
    errors = [f["ccproxy"]["error"] or "" for f in stored_flows(daemon)]
    assert sum("sentinel key is still in the request body" in e for e in errors) == 2


def test_an_oversized_request_head_is_a_recorded_json_431(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    big = "a" * (3 * 1024 * 1024)
    resp = httpx.post(daemon.proxy_url + "/v1/messages", timeout=30, json={"model": "m"},
                      headers={"x-api-key": "sk-ant-oat-ccproxy-anthropic", "x-big": big})
    assert resp.status_code == 431
    assert resp.json()["error"]["type"] == "request_header_fields_too_large"
    assert "256 KiB" in resp.json()["error"]["message"]
    assert fake_provider.requests == []

    def refused() -> list[dict[str, Any]]:
        return [f for f in stored_flows(daemon) if "larger than 256 KiB" in ((f.get("error") or {}).get("msg") or "")]

    flows = wait_for(refused, 10, 0.1, "the refused flow in the store")
    assert flows[0]["request"]["path"] == "/v1/messages"
    assert flows[0]["response"]["status_code"] == 431  # listed as 431, not as `error`
    assert big not in json.dumps(flows) and big not in daemon.log_text()
    # the daemon keeps serving
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0)
    assert client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]).content


def _hooks_warning(daemon: RunningDaemon, marker: str) -> None:
    """A request whose unknown `x-ccproxy-hooks` entry makes the daemon log a warning naming `marker`."""
    client = anthropic.Anthropic(base_url=daemon.proxy_url, api_key="sk-ant-oat-ccproxy-anthropic", max_retries=0,
                                 default_headers={"x-ccproxy-hooks": f"+{marker}"})
    assert client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]).content


def test_the_log_rotates_stays_private_and_logs_follows_it(
    daemon_factory: Callable[..., RunningDaemon],
) -> None:
    daemon = daemon_factory({"log_max_bytes": 4000, "log_backups": 2, "log_level": "INFO"})
    log = daemon.config_dir / "ccproxy.log"
    follower = subprocess.Popen(daemon.command("logs", "-f", "-n", "0"), env=daemon.env,
                                stdout=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(follower.stdout or []), daemon=True)
    reader.start()
    try:
        for i in range(50):  # `logs -f` is reading the file that is about to rotate
            _hooks_warning(daemon, f"ready_{i:02d}")
            if any("ready_" in line for line in list(seen)):
                break
        assert any("ready_" in line for line in list(seen)), "`logs -f` printed nothing"
        for i in range(200):
            _hooks_warning(daemon, f"filler_{i:03d}")
            if (daemon.config_dir / "ccproxy.log.2").exists():
                break
        assert (daemon.config_dir / "ccproxy.log.2").exists(), "the log never rotated twice"
        _hooks_warning(daemon, "after_rotation")
        wait_for(lambda: any("after_rotation" in line for line in list(seen)), 15, 0.05, "`logs -f` past rotation")
    finally:
        follower.terminate()
        follower.wait(10)
    files = [log, daemon.config_dir / "ccproxy.log.1", daemon.config_dir / "ccproxy.log.2"]
    assert not (daemon.config_dir / "ccproxy.log.3").exists()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(p.stat().st_size <= 4000 for p in files)
    tail = daemon.cli("logs", "-n", "60")
    assert tail.returncode == 0 and len(tail.stdout.splitlines()) == 60
    assert "after_rotation" in tail.stdout


def test_a_providers_oversized_response_head_is_dropped_with_a_502(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider,
) -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    huge = b"x-huge: " + b"h" * (600 * 1024) + b"\r\n"

    def serve() -> None:  # one provider that answers with a 600 KiB header
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(20)
            request = b""
            while b"\r\n\r\n" not in request or not request.endswith(b"}"):  # the whole request: closing
                request += conn.recv(65536) or b"}"  # with unread bytes would reset the connection
            with contextlib.suppress(OSError):  # ccproxy closes the connection once the limit is passed
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + huge + b"\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    daemon = daemon_factory({"providers": {"huge": {
        "provider": "anthropic", "host": f"127.0.0.1:{port}", "scheme": "http",
        "auth": {"type": "env", "env": "FAKE_ANTHROPIC_KEY"}}}})
    resp = httpx.post(daemon.proxy_url + "/v1/messages", json={"model": "m", "messages": []}, timeout=30,
                      headers={"x-api-key": "sk-ant-oat-ccproxy-huge"})
    thread.join(20)
    listener.close()
    assert resp.status_code == 502, resp.text[:300]
    assert "larger than 256 KiB" in resp.json()["error"]["message"]
    flows = wait_for(lambda: [f for f in stored_flows(daemon) if (f.get("error") or {}).get("msg")], 10, 0.1,
                     "the failed flow")
    assert "response head" in flows[-1]["error"]["msg"] and b"hhhh" not in json.dumps(flows).encode()
