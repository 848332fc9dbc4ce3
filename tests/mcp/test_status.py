from __future__ import annotations

import time
from pathlib import Path

from ccproxy.config.model import CCProxyConfig
from ccproxy.mcp.notifications import Notification, NotificationBuffer
from ccproxy.mcp.status import DaemonFacts, namespace_doc, status_doc


def test_status_doc_reports_listeners_pipeline_and_pending_notifications(tmp_path: Path) -> None:
    config = CCProxyConfig.model_validate({
        "providers": {"acme": {"provider": "openai", "host": "127.0.0.1:9", "scheme": "http",
                               "auth": {"type": "env", "env": "ACME_KEY"}}},
        "hooks": {"outbound": [{"hook": "ccproxy.hooks.inject_mcp_notifications", "params": {}}]},
        "flows": {"default_jq_filters": [".[-10:]"]},
    })
    buffer = NotificationBuffer()
    buffer.add(Notification(task_id="t", session_id="s", event={"a": 1}))
    urls = {"proxy": "http://127.0.0.1:1", "mcp": "http://127.0.0.1:2/mcp"}
    doc = status_doc(DaemonFacts(config, tmp_path, time.time(), lambda: urls, buffer))
    assert doc["proxy_url"] == "http://127.0.0.1:1" and doc["mcp_url"] == "http://127.0.0.1:2/mcp"
    assert doc["providers"]["acme"] == {"provider": "openai", "url": "http://127.0.0.1:9/v1/chat/completions",
                                        "auth": "env"}
    assert doc["pipeline"]["inbound"] == ["inject_auth", "extract_session_id"]
    assert doc["pipeline"]["outbound"] == ["inject_mcp_notifications"]
    assert doc["flows"] == {"stored": 0, "store": str(tmp_path / "flows.sqlite3"), "default_jq_filters": [".[-10:]"]}
    assert doc["notifications"] == {"tasks": 1, "events": 1}


def test_namespace_doc_is_the_namespace_status_facts(tmp_path: Path) -> None:
    urls = {"wireguard": "udp://127.0.0.1:51820"}
    doc = namespace_doc(DaemonFacts(CCProxyConfig(), tmp_path, time.time(), lambda: urls))
    assert doc["privacy_claim"] is False and doc["mode"] == "permissive"
    assert doc["daemon_running"] is True
    assert doc["wireguard"]["listener"] == "udp://127.0.0.1:51820"
    assert doc["keylogs"]["tls"]["path"] == str(tmp_path / "tls.keylog")
