"""`SessionLibrary`: the session views of a flow set, and the errors they give."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import FlowError
from ccproxy.flows.library import FlowLibrary
from ccproxy.sessions.library import SessionLibrary
from ccproxy.store.record import FlowRecord
from tests.sessions.agent_session import records

Stored = Callable[..., list[FlowRecord]]


def test_session_views_and_their_errors(tmp_path: Path, config: CCProxyConfig, stored: Stored) -> None:
    stored(*records())
    lib = SessionLibrary(FlowLibrary(config, tmp_path))
    found = lib.turn_diff("a1")
    assert found["flow_id"].startswith("a1") and found["against"].startswith("a0")
    with pytest.raises(FlowError, match="first turn of its conversation"):
        lib.turn_diff("a0")
    assert [c["conversation"] for c in lib.cache(id_prefix="a3")] == [
        c["conversation"] for c in lib.cache() if any(t["flow_id"].startswith("a3") for t in c["turns"])
    ]
    with pytest.raises(FlowError, match="no flows in the set"):
        lib.cache([".[:0]"])
