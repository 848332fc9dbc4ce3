"""The flow-store fixtures of tests/flows, reused: the viewer reads the same store."""

from tests.flows.conftest import config, stored

__all__ = ["config", "stored"]
