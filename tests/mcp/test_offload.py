"""The tools' work happens in a worker process: the daemon's event loop (every proxied request) never waits on it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import UsageError
from ccproxy.flows.library import FlowLibrary
from ccproxy.mcp.flowtools import FlowTools
from ccproxy.mcp.offload import ToolProcess
from ccproxy.mcp.paging import answer
from ccproxy.store.record import FlowRecord
from tests.store.factory import make_record

Stored = Callable[..., list[FlowRecord]]


def test_tools_run_in_another_process_with_the_same_answers_and_errors(
        tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    a, b = stored(make_record(ts=1.0), make_record(ts=2.0, status=500))
    work = ToolProcess(FlowLibrary(config, tmp_path))

    async def run() -> tuple[str, tuple[object, str], set[int]]:
        listed = await work.call("flows", "list_flows", [], 0)
        cleared = await work.call_raw("flows", "clear", [f'map(select(.id == "{b.id}"))'], False)
        with pytest.raises(UsageError, match="jq"):
            await work.call("flows", "list_flows", ["map(select("], 0)
        assert work.pool is not None
        return listed, cleared, {p.pid for p in work.pool._processes.values()}

    try:
        listed, (result, text), pids = asyncio.run(run())
    finally:
        work.close()
    assert [r["id"] for r in json.loads(listed)["flows"]] == [a.id, b.id]
    assert result == {"cleared": 1, "ids": [b.id]} and json.loads(text) == result
    assert pids and os.getpid() not in pids
    assert json.loads(answer(FlowTools(FlowLibrary(config, tmp_path)).list_flows()))["total"] == 1
