"""Receive signals with their origin, so a terminal's Ctrl-C is not delivered to the jailed command twice.

The command shares ccproxy's process group, so a signal the terminal raises (si_code SI_KERNEL)
already reached it; one sent to ccproxy alone (`kill`, si_code SI_USER) must be relayed.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable

RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
SI_KERNEL = 0x80
POLL = 0.2


class SignalRelay:
    """Blocks the relayed signals in every thread and hands each one to `callback(signo, from_terminal)`.

    Must start before any other thread exists; child processes inherit the mask (the jail's helper
    clears it first thing).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[int, bool], None]) -> None:
        self.loop = loop
        self.callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ccproxy-signals", daemon=True)
        self._previous: set[int | signal.Signals] | None = None

    def start(self) -> None:
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            info = signal.sigtimedwait(RELAYED, POLL)
            if info is not None:
                self.loop.call_soon_threadsafe(self.callback, info.si_signo, info.si_code == SI_KERNEL)

    def stop(self) -> list[int]:
        """Stop relaying; return signals still pending (taken, not delivered) so the caller decides."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(POLL * 5)
        pending: list[int] = []
        while (info := signal.sigtimedwait(RELAYED, 0)) is not None:
            pending.append(info.si_signo)
        if self._previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)
        return pending


#: A shell starts background jobs with these ignored, and an ignored disposition survives exec.
SHELL_IGNORED = (signal.SIGINT, signal.SIGQUIT)


def default_dispositions() -> None:
    """Give a command ccproxy starts the default SIGINT/SIGQUIT, whatever shell started ccproxy.

    Otherwise `ccproxy run ... &` from a script relays a SIGINT that the command then ignores.
    Runs in the child between fork and exec.
    """
    for sig in SHELL_IGNORED:
        signal.signal(sig, signal.SIG_DFL)
