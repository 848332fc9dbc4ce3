"""Copy bytes both ways between two connected TCP sockets until both directions have ended."""

from __future__ import annotations

import asyncio
import contextlib
import socket

CHUNK = 256 * 1024


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def splice(a: socket.socket, b: socket.socket) -> None:
    """Half-closes pass through (an HTTP client may shut down its write side and still read)."""
    a.setblocking(False)
    b.setblocking(False)
    ra, wa = await asyncio.open_connection(sock=a)
    rb, wb = await asyncio.open_connection(sock=b)
    try:
        await asyncio.gather(_pump(ra, wb), _pump(rb, wa))
    finally:
        for writer in (wa, wb):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
