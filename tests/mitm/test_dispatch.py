"""HookTable: mitmproxy's event semantics with the per-event addon walk cached."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from mitmproxy import exceptions, hooks
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import taddons, tflow

from ccproxy.mitm.dispatch import HookTable


class Calls:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def request(self, flow: Any) -> None:
        self.log.append(self.name)


class Slow(Calls):
    async def request(self, flow: Any) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.log.append(self.name)


class Broken(Calls):
    def request(self, flow: Any) -> None:
        self.log.append(self.name)
        raise ValueError("boom")


class Halt(Calls):
    def request(self, flow: Any) -> None:
        self.log.append(self.name)
        raise exceptions.AddonHalt


class Parent(Calls):
    """Like mitmproxy's script loader: sub-addons that may change at any time."""

    def __init__(self, log: list[str], name: str) -> None:
        super().__init__(log, name)
        self.addons: list[Any] = []


def run(tctx: Any, event: hooks.Hook) -> None:
    tctx.master.event_loop.run_until_complete(tctx.master.addons.trigger_event(event))


def test_events_reach_addons_in_chain_order_awaiting_async_hooks() -> None:
    log: list[str] = []
    with taddons.context() as tctx:
        HookTable.install(tctx.master.addons)
        tctx.master.addons.add(Calls(log, "a"), Slow(log, "b"), Calls(log, "c"))
        run(tctx, HttpRequestHook(tflow.tflow()))
    assert log == ["a", "b", "c"]


def test_an_addon_error_is_logged_and_the_next_addon_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    with taddons.context() as tctx:
        HookTable.install(tctx.master.addons)
        tctx.master.addons.add(Broken(log, "a"), Calls(log, "b"))
        with caplog.at_level(logging.ERROR):
            run(tctx, HttpRequestHook(tflow.tflow()))
    assert log == ["a", "b"]
    assert "Addon error: boom" in caplog.text


def test_addon_halt_stops_the_event() -> None:
    log: list[str] = []
    with taddons.context() as tctx:
        HookTable.install(tctx.master.addons)
        tctx.master.addons.add(Halt(log, "a"), Calls(log, "b"))
        run(tctx, HttpRequestHook(tflow.tflow()))
    assert log == ["a"]


def test_a_chain_change_and_changing_sub_addons_are_seen() -> None:
    log: list[str] = []
    with taddons.context() as tctx:
        HookTable.install(tctx.master.addons)
        parent = Parent(log, "parent")
        tctx.master.addons.add(parent)
        run(tctx, HttpRequestHook(tflow.tflow()))
        parent.addons.append(Calls(log, "child"))  # no re-registration, as a script reload does
        tctx.master.addons.add(Calls(log, "late"))
        run(tctx, HttpRequestHook(tflow.tflow()))
        parent.addons.clear()  # never registered, so mitmproxy's remove() would not find it
        tctx.master.addons.remove(parent)
        run(tctx, HttpRequestHook(tflow.tflow()))
    assert log == ["parent", "parent", "child", "late", "late"]
