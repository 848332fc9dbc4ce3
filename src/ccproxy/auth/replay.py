"""Re-send a rejected request with a renewed credential, byte for byte otherwise, and collect the answer raw."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

#: Connection-level headers: httpx frames the replay itself, and the client side is framed by mitmproxy.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length", "te", "upgrade"}
)
#: Headers httpx adds on its own; removed again when the client did not send them.
HTTPX_DEFAULTS = ("accept", "accept-encoding", "connection", "user-agent")

REPLAY_TIMEOUT = (600.0, 15.0)  # read, connect (seconds)


@dataclass(frozen=True)
class Replayed:
    """The provider's answer to the replay: status, headers as sent, and the body still content-encoded."""

    status_code: int
    reason: str
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str:
        key = name.lower().encode()
        for k, v in self.headers:
            if k.lower() == key:
                return v.decode("latin-1")
        return ""

    @property
    def is_event_stream(self) -> bool:
        return "text/event-stream" in self.header("content-type").lower()


def make_client(upstream_ca: str | None = None) -> httpx.AsyncClient:
    """No environment proxies (the replay must not loop through ccproxy), no redirects, long reads for streams."""
    import httpx  # start-up cost; see ccproxy.auth.oauth

    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=upstream_ca) if upstream_ca else True
    timeout = httpx.Timeout(REPLAY_TIMEOUT[0], connect=REPLAY_TIMEOUT[1])
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False, verify=verify)


async def resend(
    client: httpx.AsyncClient, method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> Replayed:
    """Send the request again and read the whole answer; the caller decides how the client receives it."""
    sent = {k.lower() for k, _ in headers}
    request = client.build_request(
        method, url, headers=[(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP], content=body
    )
    for name in HTTPX_DEFAULTS:
        if name not in sent and name in request.headers:
            del request.headers[name]
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return Replayed(response.status_code, response.reason_phrase, list(response.headers.raw), raw)


def client_headers(replayed: Replayed, streamed: bool) -> list[tuple[bytes, bytes]]:
    """The replay's headers, reframed for the client: chunked when streamed, else an exact content-length."""
    out = [(k, v) for k, v in replayed.headers if k.decode("latin-1").lower() not in HOP_BY_HOP]
    if streamed:
        out.append((b"transfer-encoding", b"chunked"))
    else:
        out.append((b"content-length", str(len(replayed.body)).encode()))
    return out
