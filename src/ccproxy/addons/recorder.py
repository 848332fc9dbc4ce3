"""Write every finished flow to the flow store, so flows survive restarts; keep memory bounded."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from mitmproxy import ctx, http

from ccproxy.config.model import CCProxyConfig
from ccproxy.flows.api import store_path
from ccproxy.flows.meta import get_meta
from ccproxy.flows.record import Captured, FlowRecord, build_record
from ccproxy.flows.writer import StoreWriter

log = logging.getLogger("ccproxy.recorder")


def capture(flow: http.HTTPFlow) -> FlowRecord:
    """Read the finished flow (mitmweb's own flow JSON included) into a store record."""
    from mitmproxy.tools.web.app import flow_to_json

    err = flow.error
    return build_record(
        Captured(
            web=flow_to_json(flow),
            meta=get_meta(flow),
            request_body=flow.request.raw_content or b"",
            response_body=flow.response.raw_content if flow.response is not None else None,
            error=err.msg if err else None,
            error_ts=err.timestamp if err else None,
        )
    )


class Recorder:
    """Last in the chain: a flow is finished only after auth replay and the sanitizer ran.

    Records are built on the event loop (cheap) and written by a background thread. mitmweb's
    view would otherwise keep every flow in memory forever, so only the newest
    `flows.memory_max` finished flows stay there; the store has all of them."""

    def __init__(self, config: CCProxyConfig, config_dir: Path) -> None:
        self.config = config
        self.config_dir = config_dir
        self.writer: StoreWriter | None = None
        self.in_memory: OrderedDict[str, None] = OrderedDict()

    def _writer(self) -> StoreWriter:
        if self.writer is None:
            retention = self.config.flows.retention
            path = store_path(self.config, self.config_dir)
            self.writer = StoreWriter(path, retention.max_count, retention.max_age_days).start()
        return self.writer

    def running(self) -> None:
        self._writer()

    def done(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        if not meta.extra.get("internal"):
            try:
                record = capture(flow)
            except Exception:
                log.exception("flow %s: could not build its store record; it is not recorded", flow.id[:8])
            else:
                meta.usage = record.ccproxy.get("usage")
                meta.conversation_id = record.ccproxy.get("conversation_id")
                self._writer().submit(record)
        self._bound_memory(flow)

    def _bound_memory(self, flow: http.HTTPFlow) -> None:
        self.in_memory[flow.id] = None
        self.in_memory.move_to_end(flow.id)
        limit = self.config.flows.memory_max
        if len(self.in_memory) <= limit:
            return
        master = getattr(ctx, "master", None)
        view: Any = master.addons.get("view") if master is not None else None
        while len(self.in_memory) > limit:
            old_id, _ = self.in_memory.popitem(last=False)
            old = view.get_by_id(old_id) if view is not None else None
            if old is not None and not old.live:
                view.remove([old])
