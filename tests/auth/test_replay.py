from __future__ import annotations

import asyncio
import json

from ccproxy.auth.replay import Replayed, client_headers, make_client, resend
from tests.fakes.provider import FakeProvider


def replay(fake: FakeProvider, headers: list[tuple[str, str]], body: dict[str, object]) -> Replayed:
    async def main() -> Replayed:
        async with make_client() as client:
            return await resend(client, "POST", fake.url + "/v1/messages", headers, json.dumps(body).encode())

    return asyncio.run(main())


def test_replay_sends_the_request_as_given(fake_provider: FakeProvider) -> None:
    headers = [
        ("host", fake_provider.host),
        ("x-api-key", "renewed-key"),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
        ("content-length", "999"),  # stale framing is recomputed, not copied
        ("connection", "close"),
    ]
    out = replay(fake_provider, headers, {"model": "m", "max_tokens": 5, "messages": []})
    assert out.status_code == 200 and not out.is_event_stream
    assert json.loads(out.body)["content"][0]["text"] == "Hello from the fake provider."
    seen = fake_provider.requests[-1]
    assert seen.credential() == "renewed-key"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["content-length"] == str(len(seen.body))
    # httpx's own defaults are not added to what the client sent
    assert "user-agent" not in seen.headers and "accept-encoding" not in seen.headers


def test_replayed_stream_is_read_whole_and_reframed_for_the_client(fake_provider: FakeProvider) -> None:
    out = replay(
        fake_provider,
        [("host", fake_provider.host), ("x-api-key", "k"), ("content-type", "application/json")],
        {"model": "m", "max_tokens": 5, "stream": True, "messages": []},
    )
    assert out.is_event_stream
    assert out.body.startswith(b"event: message_start") and b"message_stop" in out.body
    streamed = dict((k.decode(), v.decode()) for k, v in client_headers(out, streamed=True))
    assert streamed["transfer-encoding"] == "chunked" and "content-length" not in streamed
    whole = dict((k.decode(), v.decode()) for k, v in client_headers(out, streamed=False))
    assert whole["content-length"] == str(len(out.body)) and "transfer-encoding" not in whole
