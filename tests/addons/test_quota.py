"""The QuotaWatch addon: headers -> `.ccproxy.extra.quota`, one warning per crossing, a 429 always noted."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mitmproxy.test import tflow

from ccproxy.addons.quota import TASK_ID, QuotaWatch
from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import UpstreamResponse, get_meta
from ccproxy.mcp.notifications import NotificationBuffer


class FakeServices:
    def __init__(self) -> None:
        self.notifications = NotificationBuffer()


def flow(util: float, status: int = 200, session: str | None = "s1") -> Any:
    f = tflow.tflow(resp=True)
    f.response.status_code = status
    f.response.headers["anthropic-ratelimit-unified-5h-utilization"] = str(util)
    f.response.headers["anthropic-ratelimit-unified-5h-reset"] = "1800003600"
    f.response.headers["anthropic-ratelimit-unified-5h-status"] = "rejected" if status == 429 else "allowed"
    meta = get_meta(f)
    meta.provider, meta.session_id = "anthropic", session
    return f


def test_warns_once_per_threshold_and_notifies_the_session(caplog: pytest.LogCaptureFixture) -> None:
    services = FakeServices()
    addon = QuotaWatch(CCProxyConfig.model_validate({"quota": {"warn_at": [90, 80]}}), services)  # type: ignore[arg-type]
    warned = []
    with caplog.at_level(logging.WARNING, "ccproxy.quota"):
        for util in (0.5, 0.81, 0.85, 0.92, 0.95):
            f = flow(util)
            addon.response(f)
            warned.append(get_meta(f).warnings)
    assert [len(w) for w in warned] == [0, 1, 0, 1, 0]
    assert "window 5h is at 81% (warned at 80%)" in warned[1][0] and "(warned at 90%)" in warned[3][0]
    assert get_meta(f).quota == {"credential": "anthropic", "kind": "anthropic-unified",
                                 "windows": {"5h": {"name": "5h", "utilization": 95.0, "reset": 1800003600.0,
                                                    "status": "allowed"}}}
    [drained] = services.notifications.drain("s1")
    assert drained.task_id == TASK_ID and len(drained.events) == 2
    assert caplog.text.count("window 5h is at") == 2


def test_a_refusal_is_noted_and_the_upstream_headers_win() -> None:
    addon = QuotaWatch(CCProxyConfig(), FakeServices())  # type: ignore[arg-type]
    f = flow(0.3, status=429)
    addon.response(f)
    assert "the provider refused the request" in get_meta(f).warnings[0]
    plain = tflow.tflow(resp=True)  # ccproxy answered with its own page; the provider's headers are kept aside
    get_meta(plain).upstream_response = UpstreamResponse(200, "OK", [("x-ratelimit-limit-tokens", "100"),
                                                                     ("x-ratelimit-remaining-tokens", "10")])
    addon.response(plain)
    assert get_meta(plain).quota["windows"]["tokens"]["utilization"] == 90.0  # type: ignore[index]
    none = tflow.tflow(resp=True)
    addon.response(none)
    assert get_meta(none).quota is None and not get_meta(none).warnings
