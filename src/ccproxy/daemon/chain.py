"""The addon chain, in order: the one place that says what runs on every flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccproxy.addons.health import Health
from ccproxy.addons.inspector import Inspector
from ccproxy.addons.router import Router
from ccproxy.addons.sanitizer import EgressSanitizer
from ccproxy.addons.stage import HookStage
from ccproxy.config.model import CCProxyConfig
from ccproxy.pipeline.executor import Stage
from ccproxy.pipeline.loader import load_stage


def build_stages(config: CCProxyConfig) -> tuple[Stage, Stage]:
    """Load and order both hook DAGs; a bad entry or a cycle raises ConfigError before anything starts."""
    inbound = Stage("inbound", load_stage(config.hooks.inbound, "inbound"))
    outbound = Stage("outbound", load_stage(config.hooks.outbound, "outbound"))
    return inbound, outbound


def build_chain(
    config: CCProxyConfig,
    config_dir: Path,
    services: dict[str, Any],
    listeners: dict[str, str],
) -> list[Any]:
    """inspector -> inbound DAG -> router -> outbound DAG -> egress sanitizer."""
    inbound, outbound = build_stages(config)
    return [
        Inspector(),  # source + client-request snapshot, before anything changes the flow
        Health(listeners),  # GET /health on the reverse listener
        HookStage(inbound, config, services),  # inject_auth, extract_session_id, ...
        Router(config),  # sentinel / path routing (rules: transform router)
        HookStage(outbound, config, services),  # shape, verbose_mode, ...
        EgressSanitizer(),  # x-ccproxy-* stripped, sentinel never leaves
    ]
