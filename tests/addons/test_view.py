"""mitmweb's view has one owner: trimmed to the limit, and cleared through `ccproxy.view.remove`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

from ccproxy.addons.view import REMOVE, FlowView
from ccproxy.config.model import CCProxyConfig


def finished() -> tflow.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.live = False
    return flow


def keeper(tmp_path: Path, limit: int) -> FlowView:
    config = CCProxyConfig()
    config.inspector.view_limit = limit
    return FlowView(config, tmp_path)


def test_the_view_is_trimmed_to_the_newest_finished_flows_once_a_tenth_over(tmp_path: Path) -> None:
    view, addon = View(), keeper(tmp_path, 10)
    live = tflow.tflow()
    live.live = True
    with taddons.context(view, addon):
        flows = [live] + [finished() for _ in range(9)]
        view.add(flows)
        addon.response(flows[-1])
        assert view.store_count() == 10, "trimming waits for the slack"
        extra = [finished(), finished()]
        view.add(extra)
        addon.error(extra[-1])
        assert [f.id for f in view] == [live.id] + [f.id for f in flows[3:] + extra]


def test_remove_is_a_mitmproxy_command_that_keeps_flows_in_flight(tmp_path: Path) -> None:
    view, addon = View(), keeper(tmp_path, 100)
    a, b, c = finished(), finished(), finished()
    live = tflow.tflow()
    live.live = True
    with taddons.context(view, addon) as tctx:
        view.add([a, b, c, live])
        # the form mitmweb's `POST /commands/ccproxy.view.remove` uses: string arguments
        assert tctx.master.commands.call_strings(REMOVE, [f"{a.id},not-there"]) == 1
        assert [f.id for f in view] == [b.id, c.id, live.id]
        assert tctx.master.commands.call_strings(REMOVE, ["*"]) == 2
        assert [f.id for f in view] == [live.id]


def test_trimming_does_not_log_mitmproxys_removed_alert(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    view, addon = View(), keeper(tmp_path, 10)
    with taddons.context(view, addon), caplog.at_level(logging.DEBUG):
        flows = [finished() for _ in range(12)]
        view.add(flows)
        addon.response(flows[-1])
        assert view.store_count() == 10
        assert not [r for r in caplog.records if r.getMessage().startswith("Removed")], caplog.records
        view.remove(flows[-2:])  # a user's removal keeps mitmproxy's own line
        assert [r for r in caplog.records if r.getMessage() == "Removed 2 flows"]
