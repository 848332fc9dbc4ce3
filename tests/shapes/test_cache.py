from __future__ import annotations

from typing import Any

from mitmproxy.test import tflow

from ccproxy.flowmeta import get_meta
from ccproxy.pipeline.context import HookContext
from ccproxy.shapes.cache import (
    InsertParams,
    LimitParams,
    StripParams,
    breakpoints,
    cache_insert,
    cache_limit,
    cache_strip,
)
from ccproxy.shapes.profile import resolve
from ccproxy.shapes.work import ShapeWork
from tests.shapes.conftest import envelope_shape, make_config

CC = {"type": "ephemeral"}


def ctx_for(body: dict[str, Any], params: Any) -> HookContext:
    flow = tflow.tflow()
    work = ShapeWork(envelope_shape(), resolve(make_config(), "anthropic"), body, flow)
    return HookContext(flow=flow, config=make_config(), stage="shape", params=params, work=work)


def merged_system() -> dict[str, Any]:
    """A shape preamble of two breakpoints prepended to a client system prompt with three."""
    return {
        "tools": [{"name": "t", "cache_control": dict(CC)}],
        "system": [{"type": "text", "text": f"s{i}", "cache_control": dict(CC)} for i in range(5)],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "m", "cache_control": dict(CC)}]}],
    }


def test_strip_then_insert_leaves_exactly_one_breakpoint_on_the_last_system_block() -> None:
    body = merged_system()
    cache_strip(ctx_for(body, StripParams()))
    assert all("cache_control" not in b for b in body["system"])
    cache_insert(ctx_for(body, InsertParams()))
    assert [("cache_control" in b) for b in body["system"]] == [False, False, False, False, True]
    assert len(list(breakpoints(body))) == 3  # tools and messages kept theirs


def test_insert_skips_a_missing_parent() -> None:
    body: dict[str, Any] = {"system": "a string system prompt"}
    cache_insert(ctx_for(body, InsertParams()))
    assert body == {"system": "a string system prompt"}


def test_limit_drops_the_earliest_breakpoints_in_prompt_order_and_warns() -> None:
    body = merged_system()
    ctx = ctx_for(body, LimitParams(max=4))
    cache_limit(ctx)
    assert "cache_control" not in body["tools"][0]
    assert [("cache_control" in b) for b in body["system"]] == [False, False, True, True, True]
    assert "cache_control" in body["messages"][0]["content"][0]
    assert len(list(breakpoints(body))) == 4
    assert any("exceed the limit of 4" in w for w in get_meta(ctx.flow).warnings)
    calm = {"system": [{"type": "text", "text": "x", "cache_control": dict(CC)}]}
    cache_limit(ctx_for(calm, LimitParams()))
    assert calm["system"][0]["cache_control"] == CC
