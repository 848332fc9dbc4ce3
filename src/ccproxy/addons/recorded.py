"""`provider: recorded`: requests for a recorded provider are answered from recorded flows, offline.

Between the inbound hooks and the router. For a flow whose sentinel names a recorded provider, the
request is matched to a recorded flow (`flows.recording`: exact body hash, then longest common
message prefix with the same model), and the recorded answer (`flows.recorded_answer`, in the
client's format) is served by a loopback server this addon runs, so the answer goes through
mitmproxy like a provider's: streamed at its recorded pace (or at once with `fast: true`), recorded
by the recorder, linted, priced. The new flow says what answered it in `.ccproxy.extra.recorded`.
A request nothing matches gets the client format's error naming the closest recorded flow, or,
with `unmatched: <provider>`, goes to that provider with its credential.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from mitmproxy import http

from ccproxy.auth.apply import apply_credential, strip_client_keys
from ccproxy.config.model import CCProxyConfig
from ccproxy.config.providers import ProviderConfig
from ccproxy.errors import AuthError, ConfigError
from ccproxy.flowmeta import TransformInfo, get_meta
from ccproxy.flows.recorded_answer import Refusal, Replayed, replay
from ccproxy.flows.recording import Miss, Recording, read_recording
from ccproxy.mitm import answers as errors
from ccproxy.pipeline.services import Services
from ccproxy.store.stored_flow import StoredFlow
from ccproxy.wire.endpoints import main_endpoint
from ccproxy.wire.neutral import ApiError

log = logging.getLogger("ccproxy.recorded")
PATH = "/ccproxy-recorded/"


def load_flows(source: str, config: CCProxyConfig, config_dir: Path) -> list[StoredFlow]:
    """`from:` is a recording file (absolute, or relative to the config dir) when one is there, else a jq filter."""
    path = Path(source).expanduser()
    path = path if path.is_absolute() else config_dir / path
    if path.is_file():
        return read_recording(path)
    if source.endswith(".json"):
        raise ConfigError(f"recording file {path} does not exist; write it with `ccproxy flows export --recording`")
    from ccproxy.flows.library import FlowLibrary

    return FlowLibrary(config, config_dir).load_set([source])


class RecordedUpstream:
    def __init__(self, config: CCProxyConfig, config_dir: Path, services: Services) -> None:
        self.services = services
        self.providers: dict[str, ProviderConfig] = {
            n: p for n, p in config.providers.items() if p.provider == "recorded"}
        self.config = config
        self.recordings: dict[str, Recording] = {}
        for name, provider in self.providers.items():
            assert provider.from_ is not None
            self.recordings[name] = Recording(load_flows(provider.from_, config, config_dir))
            log.info("recorded provider %r: %d recorded flow(s) from %s", name, len(self.recordings[name]),
                     provider.from_)
        self.pending: dict[str, tuple[Replayed, bool]] = {}
        self.server: asyncio.Server | None = None
        self.port = 0

    async def running(self) -> None:
        if self.providers and self.server is None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = int(self.server.sockets[0].getsockname()[1])

    async def done(self) -> None:
        if self.server is not None:
            self.server.close()

    async def request(self, flow: http.HTTPFlow) -> None:
        meta = get_meta(flow)
        name = meta.provider
        if flow.response is not None or meta.internal or meta.transform is not None or name not in self.providers:
            return
        req = flow.request
        endpoint = main_endpoint(req.path)
        fmt = endpoint.format if endpoint else None
        body = req.get_content(strict=False) or b""
        found = self.recordings[name].match(body, req.path)
        if isinstance(found, Miss):
            await self._unmatched(flow, name, fmt, found)
            return
        answer = replay(found.flow, fmt, body, req.path)
        meta.extra["recorded"] = {"provider": name, **found.to_json()}
        if isinstance(answer, Refusal):
            meta.error = f"recorded provider {name!r}: {answer.message}"
            errors.answer_in_format(flow, fmt, ApiError("invalid_request", meta.error, 400))
            return
        strip_client_keys(req)  # the sentinel goes no further, not even to our own loopback server
        self.pending[flow.id] = (answer, self.providers[name].fast)
        req.scheme, req.host, req.port, req.path = "http", "127.0.0.1", self.port, PATH + flow.id
        req.headers["host"] = f"127.0.0.1:{self.port}"
        meta.transform = TransformInfo(mode="route", reason="recorded", provider=name, from_format=fmt,
                                       to_format=fmt, model=found.flow.ccproxy.get("model"), dest_url=req.url,
                                       stream=answer.streamed)

    async def _unmatched(self, flow: http.HTTPFlow, name: str, fmt: str | None, miss: Miss) -> None:
        meta, target = get_meta(flow), self.providers[name].unmatched
        if target == "error" or target not in self.config.providers:
            meta.error = miss.message(name)
            errors.answer_in_format(flow, fmt, ApiError("not_found", meta.error, 404))
            return
        provider = self.config.providers[target]
        meta.extra["recorded"] = {"provider": name, "match": None, "passed_to": target}
        strip_client_keys(flow.request)
        if provider.auth is not None:
            try:
                apply_credential(flow.request, provider.auth_header, await self.services.resolver.resolve(target))
            except AuthError as exc:
                errors.answer_in_format(flow, fmt, ApiError("authentication", str(exc), 502))
                return
            meta.auth_injected = True
        meta.provider = target  # the router sends it on as if the sentinel had named it

    def error(self, flow: http.HTTPFlow) -> None:
        self.pending.pop(flow.id, None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests on one kept-alive connection: each gets the answer the request hook prepared for its flow id."""
        try:
            while head := await _read_head(reader):
                lines = head.decode("latin-1").split("\r\n")
                length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                               if k.strip().lower() == "content-length"), 0)
                if length:
                    await reader.readexactly(length)
                flow_id = lines[0].split(" ")[1].removeprefix(PATH)
                answer, fast = self.pending.pop(flow_id, (None, False))
                if answer is None:
                    body = json.dumps({"error": {"type": "ccproxy_recorded", "message": "no recorded answer prepared"}})
                    answer = Replayed(404, [("content-type", "application/json")], body.encode())
                await _write(writer, answer, fast)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError, ValueError):
            log.debug("recorded provider: a connection to the loopback server ended early", exc_info=True)
        finally:
            writer.close()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """The next request's head, or b"" when the client closed the connection between requests."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return b""


async def _write(writer: asyncio.StreamWriter, answer: Replayed, fast: bool) -> None:
    """A JSON answer with its length; a stream chunked, each chunk at its recorded offset unless `fast`."""
    framing = ("transfer-encoding", "chunked") if answer.streamed else ("content-length", str(len(answer.body)))
    head = f"HTTP/1.1 {answer.status} {'OK' if answer.status < 400 else 'Error'}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in [*answer.headers, framing]) + "\r\n"
    writer.write(head.encode("latin-1") + answer.body)
    await writer.drain()
    if not answer.streamed:
        return
    loop = asyncio.get_running_loop()
    start = loop.time()
    for offset, data in answer.chunks:
        if not fast and (wait := start + offset - loop.time()) > 0:
            await asyncio.sleep(wait)  # the recorded pace of the stream
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
