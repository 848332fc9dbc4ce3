"""Shared fixtures: the fake provider and real ccproxy daemons on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import RunningDaemon, make_daemon
from tests.fakes.provider import FakeProvider

#: The jail's test hosts (network namespaces) and their daemon, for tests/namespace and tests/e2e/test_inspect*.
pytest_plugins = ["tests.namespace.fixtures"]


@pytest.fixture(scope="session")
def _fake_session() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_provider(_fake_session: FakeProvider) -> FakeProvider:
    """The session's fake provider, with recorded requests and knobs reset for each test."""
    _fake_session.reset()
    return _fake_session


@pytest.fixture
def daemon_factory(tmp_path: Path, fake_provider: FakeProvider) -> Iterator[Callable[..., RunningDaemon]]:
    """`daemon_factory(config=None, env=None, start=True)`: a ccproxy daemon pointed at the fake."""
    made: list[RunningDaemon] = []

    def make(config: dict[str, Any] | None = None, env: dict[str, str] | None = None,
             start: bool = True, name: str = "cfg") -> RunningDaemon:
        daemon = make_daemon(tmp_path / name, fake_provider.host, config, env)
        made.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in made:
        daemon.stop()


@pytest.fixture
def daemon(daemon_factory: Callable[..., RunningDaemon]) -> RunningDaemon:
    """A daemon on the default test config (all providers at the fake)."""
    return daemon_factory()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory, _fake_session: FakeProvider) -> Iterator[RunningDaemon]:
    """One default-config daemon for a whole test module: for tests that need no fresh state."""
    daemon = make_daemon(tmp_path_factory.mktemp("shared"), _fake_session.host).start()
    yield daemon
    daemon.stop()
