"""An HTTPS test host speaking HTTP/1.1 and HTTP/2 (ALPN), with JSON, gated SSE and bulk endpoints.

Routes: `/json` echoes the request; `/sse?gate=G` sends one event, waits for `release(G)`, sends a
second (a buffering proxy would never deliver the first in time); `/bytes?n=N` sends N bytes.
Every request is recorded in `.requests` with the peer address it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events

Body = bytes | AsyncIterator[bytes]
MB = 1024 * 1024


@dataclass
class Seen:
    method: str
    path: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    peer: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""


class Upstream:
    """Serves on a listening socket from its own thread and event loop."""

    def __init__(self, sock: socket.socket, cert: Path, key: Path) -> None:
        self.sock = sock
        self.requests: list[Seen] = []
        self.first_event_sent: dict[str, threading.Event] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["h2", "http/1.1"])
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("upstream did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.sock.listen(128)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, sock=self.sock, ssl=self.context)
        )
        self._ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(stop()))
        self._thread.join(5)

    def _gate(self, name: str) -> asyncio.Event:
        return self._gates.setdefault(name, asyncio.Event())

    def release(self, gate: str) -> None:
        self.loop.call_soon_threadsafe(self._gate(gate).set)

    def sse_started(self, gate: str) -> threading.Event:
        return self.first_event_sent.setdefault(gate, threading.Event())

    async def route(self, seen: Seen) -> Reply:
        self.requests.append(seen)
        url = urlsplit(seen.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/json":
            doc = {
                "method": seen.method,
                "path": seen.path,
                "http_version": seen.http_version,
                "headers": seen.headers,
                "body": seen.body.decode("utf-8", "replace"),
            }
            return Reply(200, [("content-type", "application/json")], json.dumps(doc).encode())
        if url.path == "/sse":
            return Reply(
                200,
                [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
                self._sse(query.get("gate", "default")),
            )
        if url.path == "/bytes":
            return Reply(
                200,
                [("content-type", "application/octet-stream"), ("content-length", query["n"])],
                self._bytes(int(query["n"])),
            )
        return Reply(404, [("content-type", "text/plain")], b"not found\n")

    async def _sse(self, gate: str) -> AsyncIterator[bytes]:
        yield b"event: message\ndata: one\n\n"
        self.sse_started(gate).set()
        await asyncio.wait_for(self._gate(gate).wait(), 30)
        yield b"event: message\ndata: two\n\n"

    async def _bytes(self, n: int) -> AsyncIterator[bytes]:
        chunk = b"x" * MB
        while n > 0:
            yield chunk[: min(n, MB)]
            n -= MB

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        peer = writer.get_extra_info("peername")[0]
        try:
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                await H2Server(self, reader, writer, peer).serve()
            else:
                await self._h1(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _h1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        while line := await reader.readline():
            method, target, version = line.decode("latin-1").split()
            headers: list[tuple[str, str]] = []
            while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = raw.decode("latin-1").partition(":")
                headers.append((name.strip(), value.strip()))
            lowered = {k.lower(): v for k, v in headers}
            body = await reader.readexactly(int(lowered.get("content-length", "0")))
            reply = await self.route(Seen(method, target, version, headers, body, peer))
            head = [f"HTTP/1.1 {reply.status} OK"] + [f"{k}: {v}" for k, v in reply.headers]
            if isinstance(reply.body, bytes):
                head.append(f"content-length: {len(reply.body)}")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
            else:
                if "content-length" not in {k for k, _ in reply.headers}:
                    head.append("transfer-encoding: chunked")
                    chunked = True
                else:
                    chunked = False
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
                async for chunk in reply.body:
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
                    await writer.drain()
                if chunked:
                    writer.write(b"0\r\n\r\n")
            await writer.drain()
            if lowered.get("connection", "").lower() == "close":
                return


class H2Server:
    """One HTTP/2 connection, flow control respected (bulk bodies larger than any window)."""

    def __init__(
        self, up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        self.up, self.reader, self.writer, self.peer = up, reader, writer, peer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.streams: dict[int, tuple[list[tuple[str, str]], bytearray]] = {}
        self.window = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    async def flush(self) -> None:
        self.writer.write(self.conn.data_to_send())
        await self.writer.drain()

    async def serve(self) -> None:
        self.conn.initiate_connection()
        await self.flush()
        while data := await self.reader.read(65536):
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    self.streams[event.stream_id] = (
                        [(str(k), str(v)) for k, v in event.headers],
                        bytearray(),
                    )
                elif isinstance(event, h2.events.DataReceived):
                    self.streams[event.stream_id][1].extend(event.data)
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    task = asyncio.ensure_future(self.respond(event.stream_id))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                elif isinstance(event, h2.events.WindowUpdated):
                    self.window.set()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            await self.flush()

    async def respond(self, stream_id: int) -> None:
        headers, body = self.streams.pop(stream_id)
        pseudo = dict(h for h in headers if h[0].startswith(":"))
        regular = [h for h in headers if not h[0].startswith(":")]
        seen = Seen(pseudo[":method"], pseudo[":path"], "HTTP/2.0", regular, bytes(body), self.peer)
        reply = await self.up.route(seen)
        self.conn.send_headers(stream_id, [(":status", str(reply.status)), *reply.headers])
        await self.flush()
        chunks: AsyncIterator[bytes] = _once(reply.body) if isinstance(reply.body, bytes) else reply.body
        async for chunk in chunks:
            await self.send(stream_id, chunk)
        self.conn.end_stream(stream_id)
        await self.flush()

    async def send(self, stream_id: int, data: bytes) -> None:
        while data:
            size = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size, len(data)
            )
            if size <= 0:
                self.window.clear()
                await asyncio.wait_for(self.window.wait(), 30)
                continue
            self.conn.send_data(stream_id, data[:size])
            data = data[size:]
            await self.flush()


async def _once(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body
