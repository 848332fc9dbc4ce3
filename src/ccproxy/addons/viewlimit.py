"""Keep mitmweb's in-memory flow list bounded; the flow store keeps everything else."""

from __future__ import annotations

import itertools
from typing import Any

from mitmproxy import ctx, http


class ViewLimit:
    """Drop the oldest finished flows from mitmweb's view beyond `limit`, so memory stays flat.

    Trimming waits for a slack of a tenth of the limit and then removes it in one call: each removal
    is a view signal and a UI broadcast, too dear to pay on every response."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.slack = max(1, limit // 10)

    def _trim(self) -> None:
        view: Any = getattr(ctx.master, "view", None)
        if view is None or view.store_count() < self.limit + self.slack:
            return
        excess = view.store_count() - self.limit
        oldest = itertools.islice(view._store.values(), excess * 2)
        old = [f for f in oldest if not f.live][:excess]
        if old:
            view.remove(old)

    def response(self, flow: http.HTTPFlow) -> None:
        self._trim()

    def error(self, flow: http.HTTPFlow) -> None:
        self._trim()
