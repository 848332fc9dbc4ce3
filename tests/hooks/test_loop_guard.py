"""The loop_guard hook on built flows: budgets, decisions recorded, warnings not repeated, params validated."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import ConfigError
from ccproxy.flowmeta import get_meta
from ccproxy.hooks import loop_guard as guard
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.loader import load_hook
from tests.sessions.test_loops import anthropic_body


def run(body: dict[str, Any], session: str | None = "s1", **params: Any) -> Any:
    flow = tflow.tflow()
    flow.request.path = "/v1/messages"
    flow.request.content = json.dumps(body).encode()
    get_meta(flow).session_id = session
    ctx = HookContext(flow=flow, config=CCProxyConfig(), stage="inbound", params=guard.Params(**params))
    guard.loop_guard(ctx)
    return get_meta(flow)


def test_pass_warn_noted_and_stop_are_recorded() -> None:
    assert run(anthropic_body(2), repeat_calls=3).loop_guard == {"action": "pass"}
    warned = run(anthropic_body(3), repeat_calls=3)
    assert warned.loop_guard["action"] == "warn" and "made 3 times (limit 3)" in warned.warnings[0]
    noted = run(anthropic_body(4), repeat_calls=3)
    assert noted.loop_guard["action"] == "noted" and not noted.warnings
    assert run(anthropic_body(6), repeat_calls=3).loop_guard["action"] == "warn"  # the next multiple
    stopped = run(anthropic_body(3), repeat_calls=3, action="stop")
    assert stopped.loop_guard["action"] == "stop" and stopped.refusal["kind"] == "invalid_request"
    assert "x-ccproxy-hooks: -loop_guard" in stopped.refusal["message"]


def test_session_budget_counts_requests_of_the_session_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "LEDGER", guard.Ledger())
    body = {"messages": [{"role": "user", "content": "x" * 4000}]}  # ~1000 tokens each
    assert run(body, session="a", session_tokens=2500).loop_guard["action"] == "pass"
    assert run(body, session="b", session_tokens=2500).loop_guard["action"] == "pass"
    assert run(body, session="a", session_tokens=2500).loop_guard["action"] == "pass"
    third = run(body, session="a", session_tokens=2500)
    assert third.loop_guard["findings"][0]["rule"] == "session_tokens" and third.loop_guard["action"] == "warn"
    assert run(body, session="a", session_tokens=2500).loop_guard["action"] == "noted"  # crossed once


def test_non_llm_paths_and_bad_params() -> None:
    flow = tflow.tflow()
    flow.request.path = "/v1/models"
    guard.loop_guard(HookContext(flow=flow, config=CCProxyConfig(), params=guard.Params()))
    assert get_meta(flow).loop_guard is None
    with pytest.raises(ConfigError, match="action"):
        load_hook({"hook": "ccproxy.hooks.loop_guard", "params": {"action": "explode"}}, "hooks.inbound[2]")
