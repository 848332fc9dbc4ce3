"""The flow-store fixtures the flow tests use (`config`, `stored`), for the store's tests too."""

from tests.flows.conftest import config, stored

__all__ = ["config", "stored"]
