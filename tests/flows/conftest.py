"""A config dir with a flow store filled from `factory.make_record`, for API and export tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.store.api import store_path
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord


@pytest.fixture
def config() -> CCProxyConfig:
    return CCProxyConfig()


@pytest.fixture
def stored(tmp_path: Path, config: CCProxyConfig) -> Callable[..., list[FlowRecord]]:
    """`stored(*records)` writes records into the config dir's store and returns them."""

    def put(*records: FlowRecord) -> list[FlowRecord]:
        with FlowStore(store_path(config, tmp_path), create=True) as store:
            store.put(list(records))
        return list(records)

    return put
