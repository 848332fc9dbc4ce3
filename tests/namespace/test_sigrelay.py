"""Signals reach the relay with their origin; a kill(2) from a process is not a terminal's."""

from __future__ import annotations

import asyncio
import os
import signal

from ccproxy.namespace.sigrelay import SignalRelay


def test_user_sent_signal_is_relayed_and_mask_restored() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    async def scenario() -> list[tuple[int, bool]]:
        got: list[tuple[int, bool]] = []
        arrived = asyncio.Event()

        def callback(signo: int, from_terminal: bool) -> None:
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

    assert asyncio.run(scenario()) == [(signal.SIGUSR1, False)]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
