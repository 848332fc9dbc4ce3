"""The one channel between ccproxy (host side) and its helper inside the jail.

A SOCK_SEQPACKET socketpair: each message is one JSON object, optionally carrying file descriptors.
Sockets keep the network namespace they were made in, so passing a connected socket across is how a
port on the host reaches a port in the jail and back, without either side leaving its namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

MAX_MESSAGE = 65536


class ChannelClosed(Exception):
    """The other side is gone (it exited or was killed)."""


class Channel:
    """Asynchronous send/receive of JSON messages with attached fds over a SEQPACKET socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._queue: asyncio.Queue[tuple[dict[str, Any], list[int]] | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)
        self.closed = False

    def _readable(self) -> None:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 16)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self._loop.remove_reader(self.sock.fileno())
            self.closed = True
            self._queue.put_nowait(None)
            return
        try:
            message = json.loads(data)
        except ValueError:
            for fd in fds:
                with contextlib.suppress(OSError):
                    socket.close(fd)
            return
        self._queue.put_nowait((message, list(fds)))

    async def recv(self) -> tuple[dict[str, Any], list[int]]:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise ChannelClosed
        return item

    async def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message).encode()
        while True:
            try:
                if fds:
                    socket.send_fds(self.sock, [data], fds)
                else:
                    self.sock.send(data)
                return
            except BlockingIOError:
                ready = self._loop.create_future()
                self._loop.add_writer(self.sock.fileno(), ready.set_result, None)
                try:
                    await ready
                finally:
                    self._loop.remove_writer(self.sock.fileno())
            except OSError as exc:
                raise ChannelClosed from exc

    def close(self) -> None:
        if not self.closed:
            self._loop.remove_reader(self.sock.fileno())
            self.closed = True
        self.sock.close()


def send_blocking(sock: socket.socket, message: dict[str, Any]) -> None:
    """For the helper's synchronous set-up phase, before its event loop runs."""
    sock.send(json.dumps(message).encode())


def recv_blocking(sock: socket.socket, timeout: float) -> dict[str, Any]:
    sock.settimeout(timeout)
    try:
        data = sock.recv(MAX_MESSAGE)
    except TimeoutError:
        raise ChannelClosed("no answer from ccproxy") from None
    finally:
        sock.settimeout(None)
    if not data:
        raise ChannelClosed("ccproxy went away")
    message: dict[str, Any] = json.loads(data)
    return message
