from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.test import tflow

from ccproxy.addons.stage import HookStage
from ccproxy.auth.sentinel import find_sentinel
from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import ProviderConfig
from ccproxy.daemon.chain import build_services
from ccproxy.errors import AuthError
from ccproxy.flowmeta import get_meta
from ccproxy.hooks.extract_session_id import extract_session_id, session_from_user_id
from ccproxy.hooks.inject_auth import inject_auth
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.executor import Stage
from ccproxy.pipeline.loader import load_stage


def config() -> CCProxyConfig:
    return CCProxyConfig.model_validate({
        "providers": {
            "anth": {"provider": "anthropic", "host": "a.test", "auth": {"type": "env", "env": "T_ANTH"}},
            "oai": {"provider": "openai", "host": "o.test", "auth": {"type": "env", "env": "T_OAI"}},
            "gem": {"provider": "gemini", "host": "g.test", "auth": {"type": "env", "env": "T_GEM"}},
            "broken": {"provider": "openai", "host": "b.test", "auth": {"type": "command", "command": "exit 3"}},
        }
    })


def run(flow: object, tmp_path: Path) -> None:
    cfg = config()
    ctx = HookContext(flow=flow, config=cfg, services=build_services(cfg, tmp_path))  # type: ignore[arg-type]
    asyncio.run(inject_auth(ctx))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_ANTH", "real-anth")
    monkeypatch.setenv("T_OAI", "real-oai")
    monkeypatch.setenv("T_GEM", "real-gem")


def test_find_sentinel_in_each_place() -> None:
    assert find_sentinel({"x-api-key": "sk-ant-oat-ccproxy-anth"}) is not None
    hit = find_sentinel({"authorization": "Bearer sk-ant-oat-ccproxy-oai"})
    assert hit is not None and (hit.provider, hit.header) == ("oai", "authorization")
    hit = find_sentinel({}, "alt=sse&key=sk-ant-oat-ccproxy-gem")
    assert hit is not None and (hit.provider, hit.header) == ("gem", None)
    assert find_sentinel({"x-api-key": "sk-ant-api03-real"}) is None


def test_anthropic_header_swapped(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.headers["x-api-key"] = "sk-ant-oat-ccproxy-anth"
    run(flow, tmp_path)
    assert flow.request.headers["x-api-key"] == "real-anth"
    meta = get_meta(flow)
    assert (meta.provider, meta.auth_injected) == ("anth", True)


def test_bearer_moves_to_provider_header(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.headers["authorization"] = "Bearer sk-ant-oat-ccproxy-gem"
    run(flow, tmp_path)
    assert "authorization" not in flow.request.headers
    assert flow.request.headers["x-goog-api-key"] == "real-gem"


def test_query_key_removed(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.path = "/v1beta/models/m:streamGenerateContent?alt=sse&key=sk-ant-oat-ccproxy-gem"
    run(flow, tmp_path)
    assert flow.request.path == "/v1beta/models/m:streamGenerateContent?alt=sse"
    assert flow.request.headers["x-goog-api-key"] == "real-gem"


def stage_answer(flow: object, tmp_path: Path) -> dict[str, Any]:
    """Run inject_auth as the daemon does (inside its hook stage); the JSON answer it gave."""
    cfg = config()
    stage = Stage("inbound", load_stage(["ccproxy.hooks.inject_auth"], "inbound"))
    asyncio.run(HookStage(stage, cfg, build_services(cfg, tmp_path)).request(flow))  # type: ignore[arg-type]
    response = flow.response  # type: ignore[attr-defined]
    assert response is not None and response.status_code == 400  # no client retries a 400
    doc: dict[str, Any] = json.loads(response.content)
    return doc


def test_failing_source_answers_with_an_error_naming_the_provider(tmp_path: Path) -> None:
    flow = tflow.tflow(resp=False)
    flow.request.path = "/v1/chat/completions"
    flow.request.headers["authorization"] = "Bearer sk-ant-oat-ccproxy-broken"
    with pytest.raises(AuthError, match="provider 'broken'"):
        run(flow, tmp_path)
    error = stage_answer(flow, tmp_path)["error"]  # OpenAI's error shape for an OpenAI client
    assert error["type"] == "invalid_request_error" and "provider 'broken'" in error["message"]
    assert get_meta(flow).auth_injected is False and "providers.broken.auth" in (get_meta(flow).error or "")


def test_unknown_sentinel_names_the_closest_provider_in_the_gemini_shape(tmp_path: Path) -> None:
    flow = tflow.tflow(resp=False)
    flow.request.path = "/v1beta/models/gemini-2.5-pro:generateContent"
    flow.request.headers["x-goog-api-key"] = "sk-ant-oat-ccproxy-gemm"
    error = stage_answer(flow, tmp_path)["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert "unknown provider 'gemm'" in error["message"] and "did you mean 'gem'" in error["message"]


def test_no_sentinel_leaves_client_key(tmp_path: Path) -> None:
    flow = tflow.tflow()
    flow.request.headers["x-api-key"] = "client-own-key"
    run(flow, tmp_path)
    assert flow.request.headers["x-api-key"] == "client-own-key"
    assert get_meta(flow).provider is None


@pytest.mark.parametrize(
    ("user_id", "session"),
    [
        ("user_abc_account_123_session_9f8e-77aa", "9f8e-77aa"),
        ('{"device_id": "d", "session_id": "s-1"}', "s-1"),
        ("plain-id", "plain-id"),
    ],
)
def test_session_id_forms(user_id: str, session: str) -> None:
    assert session_from_user_id(user_id) == session


def test_extract_session_id_from_body() -> None:
    flow = tflow.tflow()
    flow.request.content = b'{"model": "m", "metadata": {"user_id": "user_x_account_y_session_abc-1"}}'
    extract_session_id(HookContext(flow=flow, config=CCProxyConfig()))
    assert get_meta(flow).session_id == "abc-1"
    bad = tflow.tflow()
    bad.request.content = b"{not json user_id"
    extract_session_id(HookContext(flow=bad, config=CCProxyConfig()))
    assert get_meta(bad).session_id is None


def test_provider_config_defaults() -> None:
    p = ProviderConfig(provider="gemini", host="g.test")
    assert p.path == "/v1beta/models/{model}:{method}"
