"""The oldest flows of mitmweb's view, read from `View._store` (its insertion order)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any


def oldest(view: Any, count: int) -> Iterable[Any]:
    """The view's `count` oldest flows by arrival, without sorting the whole view.

    mitmproxy's `View` has no public "oldest first" accessor: its `_store` dict holds the flows in
    the order they were added (`tests/mitm/test_patches.py` checks it is still there)."""
    return itertools.islice(view._store.values(), count)
