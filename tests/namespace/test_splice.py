"""splice(): bytes both ways, half-close passes through."""

from __future__ import annotations

import asyncio
import socket

from ccproxy.namespace.splice import splice


def test_both_directions_and_half_close() -> None:
    async def scenario() -> None:
        client, a = socket.socketpair()
        b, server = socket.socketpair()
        for s in (client, server):
            s.setblocking(False)
        task = asyncio.ensure_future(splice(a, b))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(client, b"request " * 100_000)
        client.shutdown(socket.SHUT_WR)  # the client is done sending but still reads
        received = bytearray()
        while chunk := await loop.sock_recv(server, 65536):
            received += chunk
        assert bytes(received) == b"request " * 100_000
        await loop.sock_sendall(server, b"response")
        server.close()
        reply = bytearray()
        while chunk := await loop.sock_recv(client, 65536):
            reply += chunk
        assert bytes(reply) == b"response"
        await asyncio.wait_for(task, 5)
        client.close()

    asyncio.run(scenario())
