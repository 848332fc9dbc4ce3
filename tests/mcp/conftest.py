"""The flow-store fixtures of tests/flows, reused: the MCP tools read the same store."""

from tests.flows.conftest import config, stored

__all__ = ["config", "stored"]
