from __future__ import annotations

import pytest

from ccproxy.errors import ConfigError
from ccproxy.pipeline.dag import dependencies, order_hooks
from ccproxy.pipeline.hook import HookSpec


def spec(name: str, reads: tuple[str, ...] = (), writes: tuple[str, ...] = ()) -> HookSpec:
    return HookSpec(name, lambda ctx: None, frozenset(reads), frozenset(writes), "inbound")


def test_writers_run_before_readers_regardless_of_config_order() -> None:
    reader = spec("reader", reads=("metadata.session_id",))
    writer = spec("writer", writes=("metadata.session_id",))
    assert [h.name for h in order_hooks([reader, writer])] == ["writer", "reader"]


def test_independent_hooks_keep_config_order() -> None:
    hooks = [spec("c"), spec("a"), spec("b")]
    assert [h.name for h in order_hooks(hooks)] == ["c", "a", "b"]


def test_in_place_editors_of_one_field_keep_config_order() -> None:
    a = spec("a", reads=("request.headers",), writes=("request.headers",))
    b = spec("b", reads=("request.headers",), writes=("request.headers",))
    assert [h.name for h in order_hooks([b, a])] == ["b", "a"]


def test_cycle_is_a_config_error_naming_the_hooks() -> None:
    a = spec("alpha", reads=("x",), writes=("y",))
    b = spec("beta", reads=("y",), writes=("x",))
    with pytest.raises(ConfigError, match="alpha, beta form a cycle"):
        order_hooks([a, b], "inbound")


def test_dependencies_lists_the_field() -> None:
    a = spec("a", writes=("metadata.provider",))
    b = spec("b", reads=("metadata.provider",))
    assert dependencies([a, b]) == [("a", "b", "metadata.provider")]
