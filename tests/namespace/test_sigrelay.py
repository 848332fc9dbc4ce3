"""Signals reach the relay with their origin; a kill(2) from a process is not a terminal's.

The relay blocks signals in the thread that starts it, before any other thread exists (as in the
`ccproxy run` process). pytest already runs other threads (the fake provider's), and a process-directed
signal may land on any thread that does not block it, so the scenario runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

SCENARIO = r"""
import asyncio, os, signal
from ccproxy.namespace.sigrelay import SignalRelay

before = signal.pthread_sigmask(signal.SIG_BLOCK, [])

async def scenario():
    got = []
    arrived = asyncio.Event()

    def callback(signo, from_terminal):
        got.append((signo, from_terminal))
        arrived.set()

    relay = SignalRelay(asyncio.get_running_loop(), callback)
    relay.start()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        assert relay.stop() == []
    return got

got = asyncio.run(scenario())
print(got == [(signal.SIGUSR1, False)], signal.pthread_sigmask(signal.SIG_BLOCK, []) == before)
"""


def test_user_sent_signal_is_relayed_and_mask_restored() -> None:
    res = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True"]
