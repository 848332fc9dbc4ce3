from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

from ccproxy.addons.view import FlowView
from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import DaemonError
from ccproxy.mcp.service import McpService, bind, forget_in_view


def test_a_busy_port_names_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DaemonError) as err:
            bind("127.0.0.1", port)
    assert f"127.0.0.1:{port} is already in use" in str(err.value)
    assert "ccproxy.mcp.http.port" in str(err.value) and "enabled: false" in str(err.value)


def test_port_zero_gets_a_free_port_and_the_url_says_which(tmp_path: Path) -> None:

    config = CCProxyConfig.model_validate({"mcp": {"http": {"port": 0, "auth": "tok"}}})
    service = McpService(config, tmp_path)
    asyncio.run(service.prepare())
    try:
        assert service.token == "tok" and service.token_origin == "config"
        assert service.port > 0 and service.url == f"http://127.0.0.1:{service.port}/mcp"
    finally:
        asyncio.run(service.stop())
    assert service.sock is None


def test_forget_removes_finished_flows_from_the_view_only(tmp_path: Path) -> None:
    view = View()
    done_a, done_b, live = tflow.tflow(resp=True), tflow.tflow(resp=True), tflow.tflow()
    done_a.live = done_b.live = False
    live.live = True
    with taddons.context(view, FlowView(CCProxyConfig(), tmp_path)) as tctx:
        view.add([done_a, done_b, live])
        forget_in_view(tctx.master, [done_a.id, "not-there"], everything=False)
        assert [f.id for f in view] == [done_b.id, live.id]
        forget_in_view(tctx.master, [], everything=True)
        assert [f.id for f in view] == [live.id]
    forget_in_view(None, [live.id], everything=True)


def test_lifecycle_serves_behind_the_gate_and_frees_the_port(tmp_path: Path) -> None:
    config = CCProxyConfig.model_validate({"mcp": {"http": {"port": 0, "auth": "tok-lc"}}})
    service = McpService(config, tmp_path)

    async def scenario() -> tuple[int, int, int, int]:
        await service.prepare()
        port = service.port
        service.start(lambda: {"mcp": service.url})
        async with httpx.AsyncClient(timeout=30) as client:
            denied = (await client.post(service.url, json={})).status_code
            allowed = (await client.get(service.url, headers={"authorization": "Bearer tok-lc"})).status_code
            noted = (await client.post(service.url + "/notify", headers={"authorization": "Bearer tok-lc"},
                                       json={"task_id": "t", "session_id": "s", "event": {"k": 1}})).status_code
        await service.stop()
        return denied, allowed, noted, port

    denied, allowed, noted, port = asyncio.run(scenario())
    assert denied == 401 and allowed not in (401, 404, 500) and noted == 202
    assert service.notifications.stats() == {"tasks": 1, "events": 1}
    assert service.task is not None and service.task.done()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        again.bind(("127.0.0.1", port))
        again.listen()
