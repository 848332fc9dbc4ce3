"""The live viewer's answers, computed in a worker process of the daemon.

Building the blob parses flow JSON and walks every shown flow's facts: long stretches under the GIL,
which on a thread of the daemon delayed every proxied request (`bench/sessions_daemon.py`). In a
process, the event loop only waits for the answer bytes. The worker starts when the page is first
opened (a daemon nobody looks at pays nothing), keeps its memo of facts warm between polls, and
dies with the daemon. This module imports neither mitmproxy nor tornado, so the worker stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccproxy.flows.library import FlowLibrary
    from ccproxy.store.facts import Facts
    from ccproxy.viewer.data import Verdicts
    from ccproxy.viewer.fragments import Fragments

#: The live page shows the newest flows of the set; `flows export --html --jq` reaches further back.
LIVE_LIMIT = 500


class LiveData:
    """The light blob of the newest flows, rebuilt only when the set changed (the page polls every 3 s).

    Runs in the viewer's worker process. It keeps each shown flow's facts and flow JSON (a few KB a flow,
    never a body) and the cache verdicts worked out so far, so a new flow costs reading that flow's row;
    the blob is kept as serialised per-session parts (`viewer.fragments`), and only the sessions whose
    flows changed are rebuilt and re-serialised."""

    def __init__(self, library: FlowLibrary) -> None:
        self.library = library
        self.key: tuple[tuple[str, int], ...] = ()
        self.body = b""
        self.facts: dict[tuple[str, int], Facts] = {}
        self.docs: dict[str, dict[str, Any]] = {}
        self.verdicts: Verdicts = {}
        self.against: dict[str, dict[str, Any]] = {}
        from ccproxy.viewer.fragments import Fragments

        self.fragments: Fragments = Fragments()

    def get(self) -> bytes:
        from ccproxy.flows.library import request_bodies

        with self.library.open() as store:
            if store is None:
                return self._empty()
            key = tuple(store.versions(self.library.ids())[-LIVE_LIMIT:])
            if key == self.key and self.body:
                return self.body
            new = [k for k in key if k not in self.facts]
            if any(k[0] in self.docs for k in new):
                self.verdicts.clear()  # a flow written again under its id (a replay): its verdicts may change
            ids = [k[0] for k in new]
            got = {f.id: f for f in store.facts(ids)}  # a flow deleted meanwhile is simply not there
            self.facts.update({k: got[k[0]] for k in new if k[0] in got})
            self.docs.update({d["id"]: d for d in store.docs(ids)})
            keep, shown = set(key), {k[0] for k in key}
            self.facts = {k: v for k, v in self.facts.items() if k in keep}
            self.docs = {i: d for i, d in self.docs.items() if i in shown}
            self.verdicts = {v: c for v, c in self.verdicts.items() if v[0] in shown and v[1] in shown}
            self.body = self.fragments.build([(k, self.facts[k]) for k in key if k in self.facts], self.docs,
                                             request_bodies(store), self.verdicts, self.library.config.prices)
        self.against = self.fragments.against
        self.key = key
        return self.body

    def _empty(self) -> bytes:
        from ccproxy.viewer.data import light_data

        return json.dumps(light_data([], {}, lambda _: None), default=str).encode()

    def flow(self, flow_id: str) -> bytes | None:
        from ccproxy.flows.library import request_bodies
        from ccproxy.sessions.context import flow_breakdown
        from ccproxy.viewer.data import flow_detail, full_diff

        flows = self.library.load([flow_id])
        if not flows:
            return None
        detail = flow_detail(flows[0], redacted=True)
        context = flow_breakdown(flows[0])  # the stacked bar of where the input tokens went
        detail["context"] = {k: v for k, v in context.items() if k != "parts"}
        with self.library.open() as store:
            if store is not None:
                detail["diff"] = full_diff(self.against.get(flow_id), request_bodies(store))
        return json.dumps(detail, ensure_ascii=False, default=str).encode()


# -- the worker process -------------------------------------------------------------------------------

_live: dict[str, LiveData] = {}


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the daemon dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start(library: FlowLibrary) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    _live["live"] = LiveData(library)


def _noop() -> None:
    return None


def _data() -> bytes:
    return _live["live"].get()


def _flow(flow_id: str) -> bytes | None:
    return _live["live"].flow(flow_id)


class LiveProcess:
    """The viewer's answers, computed in one worker process (one, so its memo of facts stays warm)."""

    def __init__(self, library: FlowLibrary) -> None:
        self.library = library
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start, initargs=(self.library,))
        return self.pool

    def warm(self) -> None:
        """Start the worker (and its imports) without waiting for it."""
        self._pool().submit(_noop)

    async def get(self) -> bytes:
        result: bytes = await asyncio.wrap_future(self._pool().submit(_data))
        return result

    async def flow(self, flow_id: str) -> bytes | None:
        result: bytes | None = await asyncio.wrap_future(self._pool().submit(_flow, flow_id))
        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
