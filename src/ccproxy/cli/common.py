"""Small helpers every command shares: the config dir and the loaded config (pydantic loads lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccproxy.config.model import CCProxyConfig
    from ccproxy.flows.library import FlowLibrary


def resolve_dir(args: argparse.Namespace) -> Path:
    from ccproxy.config.loader import config_dir

    return config_dir(getattr(args, "config", None))


def load(args: argparse.Namespace) -> tuple[Path, CCProxyConfig]:
    """The config dir and its config, with the ports `CCPROXY_*_PORT` (and `start`'s flags) override."""
    import os

    from ccproxy.config.loader import load_config, port_overrides

    directory = resolve_dir(args)
    flags = {
        "port": getattr(args, "port", None),
        "inspector.port": getattr(args, "inspector_port", None),
        "mcp.http.port": getattr(args, "mcp_port", None),
    }
    return directory, load_config(directory, port_overrides(os.environ, flags))


def library(args: argparse.Namespace) -> FlowLibrary:
    """The flow library of the config dir the command was given."""
    from ccproxy.flows.library import FlowLibrary

    directory, config = load(args)
    return FlowLibrary(config, directory)
