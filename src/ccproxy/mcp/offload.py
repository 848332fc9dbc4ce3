"""The flow and shape tools run in a worker process, so a big flow store never stalls the proxy.

The MCP server shares the daemon's event loop with every proxied request. A worker thread is not
enough: parsing thousands of flows' JSON (`json.loads`) and running jq over them are long C calls
that hold the GIL, and the loop waited 1.5-4 s per call on a 4,000-flow store
(`bench/mcp_tools.py`). In a process, the loop only waits for a capped answer string.

The pool starts on the first tool call (a daemon nobody queries pays nothing) with the `spawn`
method (the daemon has threads; forking it is unsafe), and its workers die with the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from ccproxy.mcp.paging import answer

if TYPE_CHECKING:
    from ccproxy.flows.library import FlowLibrary

WORKERS = 2  # one slow jq call does not hold up every other tool call

_tools: dict[str, Any] = {}  # in a worker: "flows" / "sessions" / "shapes" -> the tools object


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the daemon dies, even by SIGKILL (no atexit then)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start(library: FlowLibrary) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which shuts the pool down
    _die_with_parent()
    from ccproxy.mcp.flowtools import FlowTools
    from ccproxy.mcp.sessiontools import SessionTools
    from ccproxy.mcp.shapetools import ShapeTools

    _tools["flows"] = FlowTools(library)
    _tools["sessions"] = SessionTools(library)
    _tools["shapes"] = ShapeTools(library.config, library.config_dir)


def _run(kind: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], raw: bool) -> tuple[Any, str]:
    """In a worker: the answer text, and with `raw` the result itself (a caller needs a field of it)."""
    result = getattr(_tools[kind], method)(*args, **kwargs)
    return (result if raw else None), answer(result)


class ToolProcess:
    """Calls `FlowTools` / `SessionTools` / `ShapeTools` methods in the worker pool; errors (CCProxyError) come back as raised."""

    def __init__(self, library: FlowLibrary) -> None:
        self.library = library  # pickled once into each worker (config and paths only)
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=WORKERS, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start, initargs=(self.library,),
            )
        return self.pool

    async def call(self, kind: str, method: str, *args: Any, **kwargs: Any) -> str:
        """The answer text of `tools.method(*args, **kwargs)`."""
        return (await self._submit(kind, method, args, kwargs, False))[1]

    async def call_raw(self, kind: str, method: str, *args: Any, **kwargs: Any) -> tuple[Any, str]:
        """The result itself and its answer text."""
        return await self._submit(kind, method, args, kwargs, True)

    async def _submit(self, kind: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                      raw: bool) -> tuple[Any, str]:
        future = self._pool().submit(_run, kind, method, args, kwargs, raw)
        result: tuple[Any, str] = await asyncio.wrap_future(future)
        return result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
