"""mitmweb's view of ccproxy's flows, owned in one place: restored at start, trimmed while serving,
cleared on request.

mitmweb keeps every flow it sees in memory; the flow store keeps them on disk. This addon keeps the
two in step: a started daemon shows the newest stored flows again (summaries, bodies read when
opened: `store/restore.py`), live flows drop their bodies the same way once stored (all but the newest
`KEEP_LOADED`), the view holds only the newest `inspector.view_limit` flows, and flows
cleared from the store leave the view through one mitmproxy command, `ccproxy.view.remove`, which
the MCP server calls in-process and `ccproxy flows clear` calls over mitmweb's REST API
(`POST /commands/ccproxy.view.remove`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mitmproxy import command, ctx, http

from ccproxy.config.model import CCProxyConfig
from ccproxy.mitm.viewstore import oldest
from ccproxy.store.api import store_path
from ccproxy.store.restore import load_recent, to_http_flow, unload

log = logging.getLogger("ccproxy.view")

REMOVE = "ccproxy.view.remove"
#: The newest stored flows keep their bodies in memory (a replay from mitmweb sends them); older ones
#: read them from the store when shown.
KEEP_LOADED = 4
#: The `ids` argument of `ccproxy.view.remove` that means every finished flow.
EVERYTHING = "*"


def remove_finished(view: Any, ids: Sequence[str]) -> int:
    """Drop the named flows (`*`: every flow) from the view, except flows still in flight."""
    if list(ids) == [EVERYTHING]:
        doomed = [f for f in list(view) if not f.live]
    else:
        doomed = [f for i in ids if (f := view.get_by_id(i)) is not None and not f.live]
    if doomed:
        view.remove(doomed)
    return len(doomed)


class _DropRemovedAlert(logging.Filter):
    """mitmproxy's `view.flows.remove` logs `ALERT Removed N flows` on the root logger: right for a user's
    click, noise (several a second under load) for the view's own trimming."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Removed ")


@contextlib.contextmanager
def _quiet_removal() -> Iterator[None]:
    root, quiet = logging.getLogger(), _DropRemovedAlert()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


class FlowView:
    """Late in the chain, after the recorder: a flow leaves the view only once it is stored.

    Trimming waits for a slack of a tenth of the limit and then removes it in one call: each removal
    is a view signal and a UI broadcast, too dear to pay on every response."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.limit = config.inspector.view_limit
        self.slack = max(1, self.limit // 10)
        self.restoring: asyncio.Task[None] | None = None
        self.loaded: deque[str] = deque()  # stored flows still holding their bodies, oldest first

    @staticmethod
    def _view() -> Any:
        return ctx.master.addons.get("view")

    # -- restore -----------------------------------------------------------------------------------
    async def running(self) -> None:
        # mitmweb starts empty; show the newest stored flows again, without delaying readiness.
        self.restoring = asyncio.get_running_loop().create_task(self._restore(self.limit))

    async def _restore(self, limit: int) -> None:
        """Summaries only: bodies stay in the store until mitmweb shows one (`ccproxy.store.restore`)."""
        try:
            path = store_path(self.config, self.config_dir)
            docs = await asyncio.to_thread(load_recent, path, limit)
            view = self._view()
            if docs and view is not None:
                view.add([to_http_flow(d, path) for d in docs if view.get_by_id(d["id"]) is None])
                log.info("mitmweb: %d stored flow(s) restored into the view (bodies load when opened)", len(docs))
        except Exception:
            log.exception("could not restore stored flows into the mitmweb view")

    # -- trim --------------------------------------------------------------------------------------
    def _trim(self) -> None:
        view = self._view()
        if view is None or view.store_count() < self.limit + self.slack:
            return
        excess = view.store_count() - self.limit
        old = [f for f in oldest(view, excess * 2) if not f.live][:excess]
        if old:
            with _quiet_removal():
                view.remove(old)
            log.debug("mitmweb: the %d oldest flows left the view (still in the store)", len(old))

    # -- bodies on demand ----------------------------------------------------------------------------
    def _unload(self) -> None:
        """Flows the writer has stored, beyond the newest `KEEP_LOADED`, drop their bodies (read from the
        store when opened): the view's memory no longer grows with request size x view_limit."""
        written = getattr(ctx.master.addons.get("recorder"), "written", None)
        while written:
            self.loaded.append(written.popleft())
        view = self._view()
        if view is None or len(self.loaded) <= KEEP_LOADED:
            return
        path = store_path(self.config, self.config_dir)
        while len(self.loaded) > KEEP_LOADED:
            flow = view.get_by_id(self.loaded.popleft())
            if flow is not None and isinstance(flow, http.HTTPFlow):
                unload(flow, path)

    def response(self, flow: http.HTTPFlow) -> None:
        self._unload()
        self._trim()

    def error(self, flow: http.HTTPFlow) -> None:
        self._unload()
        self._trim()

    # -- remove ------------------------------------------------------------------------------------
    @command.command(REMOVE)  # type: ignore[untyped-decorator]  # mitmproxy types it loosely
    def remove(self, ids: Sequence[str]) -> int:
        """Remove flows cleared from the store from mitmweb's view (`*`: all); flows in flight stay."""
        view = self._view()
        return remove_finished(view, ids) if view is not None else 0
