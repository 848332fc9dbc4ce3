"""The daemon's services: typed, and incomplete ones refused when built rather than at request time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from ccproxy.addons.router import Router
from ccproxy.auth.resolver import CredentialResolver
from ccproxy.config.model import CCProxyConfig
from ccproxy.daemon.chain import build_chain, build_services
from ccproxy.errors import DaemonError
from ccproxy.flowmeta import get_meta
from ccproxy.hooks.inject_auth import inject_auth
from ccproxy.pipeline.context import HookContext
from ccproxy.pipeline.services import Services
from ccproxy.shapes.replay import ShapeRuntime


def test_a_service_missing_is_refused_when_built(tmp_path: Path) -> None:
    config = CCProxyConfig()
    with pytest.raises(DaemonError, match="without resolver"):
        Services(resolver=None, shapes=ShapeRuntime(config, tmp_path))  # type: ignore[arg-type]
    with pytest.raises(DaemonError, match="without shapes"):
        Services(resolver=CredentialResolver(config, tmp_path), shapes=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Services(resolver=CredentialResolver(config, tmp_path))  # type: ignore[call-arg]


def test_the_notification_buffer_is_the_one_optional_member(tmp_path: Path) -> None:
    services = build_services(CCProxyConfig(), tmp_path)
    assert services.notifications is None
    assert isinstance(services.resolver, CredentialResolver) and isinstance(services.shapes, ShapeRuntime)


def test_the_router_cannot_be_built_without_services() -> None:
    # It used to default to {} and then send a rule's redirect on without any credential.
    with pytest.raises(TypeError):
        Router(CCProxyConfig())  # type: ignore[call-arg]


def test_every_addon_of_the_chain_shares_the_one_services_object(tmp_path: Path) -> None:
    config = CCProxyConfig()
    services = build_services(config, tmp_path)
    chain = build_chain(config, tmp_path, services, {})
    holders = [a for a in chain if hasattr(a, "services")]
    assert {type(a).__name__ for a in holders} == {"AuthRefresh", "CapacityFallback", "HookStage", "QuotaWatch",
                                                   "RecordedUpstream", "Router"}
    assert all(a.services is services for a in holders)


def test_a_hook_that_needs_services_fails_clearly_without_them() -> None:
    flow = tflow.tflow()
    flow.request.headers["x-api-key"] = "sk-ant-oat-ccproxy-anthropic"
    ctx = HookContext(flow=flow, config=CCProxyConfig())
    with pytest.raises(DaemonError, match="needs the daemon's services"):
        asyncio.run(inject_auth(ctx))
    assert not get_meta(flow).auth_injected
