"""The flow-store fixtures the flow tests use (`config`, `stored`), for the session tests too."""

from tests.flows.conftest import config, stored

__all__ = ["config", "stored"]
