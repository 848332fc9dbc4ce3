"""The host <-> jail channel: JSON messages with file descriptors over a SEQPACKET socketpair."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from ccproxy.namespace.control import Channel, ChannelClosed, recv_blocking, send_blocking


def test_messages_and_fds_cross_and_close_is_seen() -> None:
    async def scenario() -> None:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        left, right = Channel(a), Channel(b)
        r, w = os.pipe()
        await left.send({"op": "connected", "id": 3}, [r])
        os.close(r)
        message, fds = await right.recv()
        assert message == {"op": "connected", "id": 3} and len(fds) == 1
        os.write(w, b"through the passed fd")
        assert os.read(fds[0], 100) == b"through the passed fd"
        os.close(fds[0])
        os.close(w)
        await right.send({"op": "exit", "returncode": 5})
        assert (await left.recv())[0] == {"op": "exit", "returncode": 5}
        left.close()
        with pytest.raises(ChannelClosed):
            await asyncio.wait_for(right.recv(), 5)
        with pytest.raises(ChannelClosed):
            await right.recv()  # stays closed
        right.close()

    asyncio.run(scenario())


def test_blocking_side_for_set_up() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    send_blocking(a, {"op": "hello"})
    assert recv_blocking(b, 5) == {"op": "hello"}
    with pytest.raises(ChannelClosed):
        recv_blocking(b, 0.05)  # nothing more within the bound
    a.close()
    with pytest.raises(ChannelClosed):
        recv_blocking(b, 5)
    b.close()
