"""capacity_fallback arms generation calls only; its params are checked when the config loads."""

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import ConfigError
from ccproxy.flowmeta import TransformInfo, get_meta
from ccproxy.hooks.capacity_fallback import Params, capacity_fallback
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.loader import load_hook


def armed(path: str, routed: bool = True) -> dict[str, object] | None:
    flow = tflow.tflow()
    flow.request = http.Request.make("POST", f"https://example.com{path}", b"{}")
    if routed:
        get_meta(flow).transform = TransformInfo(mode="route", reason="sentinel")
    params = Params(fallback_models=["gemini/gemini-2.5-flash"])
    capacity_fallback(HookContext(flow=flow, config=CCProxyConfig(), stage="outbound", params=params))
    return get_meta(flow).capacity


def test_generation_calls_are_armed_with_the_policy() -> None:
    story = armed("/v1/messages")
    assert story is not None and story["attempts"] == []
    assert story["policy"] == {"fallback_models": ["gemini/gemini-2.5-flash"], "sticky_retry_attempts": 1,
                               "sticky_retry_max_delay_seconds": 10.0, "terminal_delay_threshold_seconds": 300.0,
                               "total_retry_budget_seconds": 60.0}
    assert armed("/v1internal:streamGenerateContent") is not None


def test_other_calls_are_not() -> None:
    assert armed("/v1internal:countTokens") is None and armed("/simple/pip/") is None
    assert armed("/v1/messages", routed=False) is None


def test_params_are_validated() -> None:
    entry = {"hook": "ccproxy.hooks.capacity_fallback", "params": {"sticky_retry_attempts": 3}}
    assert load_hook(entry, "hooks.outbound[0]").name == "capacity_fallback"
    with pytest.raises(ConfigError, match="fallback_model"):
        load_hook({"hook": "ccproxy.hooks.capacity_fallback", "params": {"fallback_model": ["x"]}}, "h")
    assert "ccproxy.hooks.capacity_fallback" not in CCProxyConfig().hooks.outbound
    assert "ccproxy.hooks.commitbee_compat" not in CCProxyConfig().hooks.outbound
