from __future__ import annotations

import asyncio

import pytest
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import ConfigError
from ccproxy.flowmeta import get_meta
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.executor import Stage, parse_override
from ccproxy.pipeline.loader import load_hook, load_stage

TAG = {"hook": "tests.pipeline.sample_hooks.tag", "params": {"value": "v1"}}


def run(stage: Stage, flow: object) -> None:
    ctx = HookContext(flow=flow, config=CCProxyConfig(), stage=stage.name)  # type: ignore[arg-type]
    asyncio.run(stage.run(ctx))


def test_params_are_validated_by_the_hook_model() -> None:
    spec = load_hook(TAG, "hooks.inbound[0]")
    assert spec.params is not None and spec.params.value == "v1"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"hooks.inbound\[0\].params: value: Field required"):
        load_hook({"hook": "tests.pipeline.sample_hooks.tag", "params": {}}, "hooks.inbound[0]")
    with pytest.raises(ConfigError, match="takes no params"):
        load_hook({"hook": "tests.pipeline.sample_hooks.boom", "params": {"x": 1}}, "w")


def test_unknown_hook_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cannot import hook 'nope\.nothing'"):
        load_hook("nope.nothing", "hooks.inbound[0]")
    with pytest.raises(ConfigError, match="defines 4 hooks"):
        load_hook("tests.pipeline.sample_hooks", "hooks.inbound[0]")


def test_stage_runs_in_dag_order_and_isolates_failures() -> None:
    stage = Stage("inbound", load_stage(
        ["tests.pipeline.sample_hooks.read_tag", "tests.pipeline.sample_hooks.boom", TAG], "inbound"))
    assert [h.name for h in stage.hooks] == ["boom", "tag", "read_tag"]
    flow = tflow.tflow()
    run(stage, flow)
    meta = get_meta(flow)
    assert meta.extra["seen_tag"] == "v1"
    assert [(r.name, r.ok) for r in meta.hooks] == [("boom", False), ("tag", True), ("read_tag", True)]
    assert "boom hook exploded" in (meta.hooks[0].error or "")


def test_override_header_disables_and_enables_per_request() -> None:
    assert parse_override("+a, -b,c") == ({"a", "c"}, {"b"})
    stage = Stage("inbound", load_stage([TAG, "tests.pipeline.sample_hooks.read_tag"], "inbound"))
    flow = tflow.tflow()
    flow.request.headers["x-ccproxy-hooks"] = "-tag"
    run(stage, flow)
    assert "x-sample-tag" not in flow.request.headers
    assert get_meta(flow).extra["seen_tag"] is None

    flow2 = tflow.tflow()
    flow2.request.headers["x-ccproxy-hooks"] = "+extract_session_id,+no_such_hook"
    flow2.request.content = b'{"metadata": {"user_id": "user_ab_account_cd_session_1234-abcd"}}'
    run(stage, flow2)
    assert [r.name for r in get_meta(flow2).hooks] == ["tag", "read_tag", "extract_session_id"]
    assert get_meta(flow2).session_id == "1234-abcd"


def test_duplicate_hooks_rejected() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        load_stage(["tests.pipeline.sample_hooks.boom", "tests.pipeline.sample_hooks.boom"], "inbound")
