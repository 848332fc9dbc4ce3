"""mitmweb serves a client's own keys masked in every view: the flow list, the live updates, content
views, the body download and the export formats (curl, httpie, raw)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.daemon import RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

SECRET = "sk-client-own-key-7f3a9c"
TOKEN = "refresh-secret-5b2e1d"


def web(daemon: RunningDaemon, path: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(daemon.inspector_url + path, data=data, headers={
        "authorization": f"Bearer {daemon.state['web_token']}", "content-type": "application/json",
        "cookie": "_mitmproxy_xsrf=ccproxytest", "x-xsrftoken": "ccproxytest"})  # mitmweb's XSRF check on POST
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def send(daemon: RunningDaemon, marker: str) -> None:
    httpx.post(
        f"{daemon.proxy_url}/v1/messages?api_key={SECRET}&m={marker}",
        headers={"x-api-key": SECRET, "authorization": f"Bearer {SECRET}", "cookie": f"session={SECRET}",
                 "anthropic-version": "2023-06-01"},
        json={"model": "m", "max_tokens": 8, "refresh_token": TOKEN,
              "messages": [{"role": "user", "content": marker}]},
        timeout=30,
    )


def test_every_mitmweb_view_masks_the_clients_own_keys(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    updates_url = daemon.inspector_url.replace("http://", "ws://") + "/updates"
    with connect(updates_url, additional_headers={"Authorization": f"Bearer {daemon.state['web_token']}"},
                 open_timeout=20) as ws:
        send(daemon, "first")
        pushed: list[str] = []

        def done() -> bool:
            msg = ws.recv(timeout=20)
            pushed.append(str(msg))
            return "flows/update" in pushed[-1] and "first" in pushed[-1] and '"response"' in pushed[-1]

        wait_for(done, 30, 0, "the flow's update on /updates")
    assert fake_provider.requests and fake_provider.requests[-1].headers["x-api-key"] == SECRET  # sent as is
    status, listing = web(daemon, "/flows")
    assert status == 200
    flows = [f for f in json.loads(listing) if "first" in f["request"]["path"]]
    assert flows, listing[:300]
    fid = flows[0]["id"]

    views: dict[str, bytes] = {"/flows": listing, "/updates": "\n".join(pushed).encode()}
    for path in (f"/flows/{fid}/request/content.data", f"/flows/{fid}/request/content/auto.json",
                 f"/flows/{fid}/request/content/json.json", f"/flows/{fid}/request/content/raw.json"):
        status, views[path] = web(daemon, path)
        assert status == 200, (path, views[path][:200])
    for fmt in ("curl", "httpie", "raw", "raw_request"):
        status, views[f"export {fmt}"] = web(daemon, "/commands/export", {"arguments": [fmt, f"@{fid}"]})
        assert status == 200 and b"error" not in json.loads(views[f"export {fmt}"]), views[f"export {fmt}"][:300]

    for name, body in views.items():
        assert SECRET.encode() not in body and TOKEN.encode() not in body, (name, body[:600])
    assert b"[REDACTED]" in views[f"/flows/{fid}/request/content.data"]
    assert b"x-api-key" in views["export curl"] and b"[REDACTED]" in views["export curl"]
    assert b"first" in views[f"/flows/{fid}/request/content/auto.json"]
