"""Codex CLI's Responses WebSocket through ccproxy: relayed with the real key, recorded, or refused with 426.

A real WebSocket client (the `websockets` library) talks to a real daemon; the fake provider's
`GET /v1/responses` upgrade (tests/fakes/websocket.py) checks the credential and answers in
Responses events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.daemon import SECRETS, RunningDaemon, wait_for
from tests.fakes.provider import FakeProvider

REAL_KEY = SECRETS["FAKE_OPENAI_KEY"]
SECRET_IN_MESSAGE = "sk-message-secret-0042"  # a credential-named field inside a message: masked in every view
BINARY = b"\x00\xffccproxy-binary\x01"


def open_socket(daemon: RunningDaemon, sentinel: str) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{daemon.port}/v1/responses",
        additional_headers={"Authorization": f"Bearer {sentinel}"},
        open_timeout=20,
        close_timeout=10,
    )


def codex_turn(ws: ClientConnection) -> list[dict[str, Any]]:
    """One Responses turn as Codex sends it; the events up to `response.completed`."""
    ws.send(json.dumps({"type": "response.create", "model": "gpt-fake", "api_key": SECRET_IN_MESSAGE,
                        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}))
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "response.completed":
        events.append(json.loads(ws.recv(timeout=20)))
        assert len(events) < 50, events
    return events


def stored_socket(daemon: RunningDaemon) -> dict[str, Any]:
    """The socket's flow once the recorder stored it with its end (`flows list --json`)."""

    def closed() -> dict[str, Any] | None:
        flows = json.loads(daemon.cli("flows", "list", "--json").stdout)
        for flow in flows:
            ws = (flow.get("ccproxy") or {}).get("websocket")
            if ws and ws.get("close_code") is not None:
                return dict(flow)
        return None

    return dict(wait_for(closed, 30, 0.1, "the WebSocket flow recorded with its close"))


def test_socket_is_relayed_with_the_real_key_and_recorded(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.required_token = REAL_KEY  # the fake refuses any other credential (401)
    with open_socket(daemon, "sk-ant-oat-ccproxy-responses") as ws:
        events = codex_turn(ws)
        ws.send(BINARY)
        echoed = ws.recv(timeout=20)
    assert [e["type"] for e in events] == ["response.created"] + ["response.output_text.delta"] * 4 + [
        "response.completed"
    ]
    assert "".join(e["delta"] for e in events if "delta" in e) == "Hello over a socket."
    assert echoed == BINARY

    # The provider saw the real key in the handshake, the sentinel never; and both messages.
    upgrades = [r for r in fake_provider.requests if r.method == "GET" and r.path.startswith("/v1/responses")]
    assert [r.credential() for r in upgrades] == [REAL_KEY]
    assert not any("sk-ant-oat-ccproxy" in v for r in fake_provider.requests for _, v in r.header_list)
    assert json.loads(fake_provider.ws_received[0])["type"] == "response.create"
    assert fake_provider.ws_received[1] == BINARY

    flow = stored_socket(daemon)
    ccp = flow["ccproxy"]
    assert flow["response"]["status_code"] == 101
    extensions = [v for k, v in flow["response"]["headers"] if k.lower() == "sec-websocket-extensions"]
    assert extensions and "permessage-deflate" in extensions[0]  # compressed frames, recorded inflated below
    assert ccp["websocket"]["sent"] == 2 and ccp["websocket"]["received"] == 7
    assert ccp["websocket"]["closed_by_client"] is True and ccp["websocket"]["close_code"] == 1000
    assert ccp["transform"]["mode"] == "route" and ccp["auth_injected"] is True
    assert ccp["model"] == "gpt-fake" and ccp["usage"] == {"input_tokens": 7, "output_tokens": 4, "total_tokens": 11}

    text = daemon.cli("flows", "show", flow["id"]).stdout
    assert "== websocket (9 messages: 2 sent, 7 received)" in text
    assert "client -> provider" in text and "provider -> client" in text and "response.completed" in text
    assert "closed by the client: 1000" in text
    shown = json.loads(daemon.cli("flows", "show", flow["id"], "--json").stdout)
    assert [m["type"] for m in shown["websocket_messages"]] == ["send"] + ["receive"] * 6 + ["send", "receive"]
    har = json.loads(daemon.cli("flows", "dump").stdout)
    entries = [e for e in har["log"]["entries"] if e["_ccproxy"]["flow_id"] == flow["id"]]
    assert [e["_resourceType"] for e in entries] == ["websocket", "websocket"]
    messages = entries[0]["_webSocketMessages"]
    assert [(m["type"], m["opcode"]) for m in messages] == (
        [("send", 1)] + [("receive", 1)] * 6 + [("send", 2), ("receive", 2)]
    )
    assert all(isinstance(m["time"], float) for m in messages)
    assert json.loads(messages[0]["data"])["model"] == "gpt-fake"
    assert messages[-1]["data"] == "AP9jY3Byb3h5LWJpbmFyeQE="  # base64 of BINARY
    for dump in (text, json.dumps(shown), json.dumps(har)):
        assert REAL_KEY not in dump and SECRET_IN_MESSAGE not in dump
    unredacted = daemon.cli("flows", "dump", "--unredacted").stdout
    assert SECRET_IN_MESSAGE in unredacted  # the store kept the message as it went over the wire


def _refused(daemon: RunningDaemon, sentinel: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as info:
        open_socket(daemon, sentinel)
    response = info.value.response
    return response.status_code, json.loads(response.body or b"{}")


@pytest.mark.parametrize(
    ("config", "sentinel", "reason"),
    [
        # The sentinel's provider speaks Chat Completions: an HTTP request would be translated.
        ({}, "sk-ant-oat-ccproxy-openai", "sentinel"),
        # A transform rule to another wire format.
        ({"inspector": {"transforms": [{"match_path": "^/v1/responses", "action": "transform",
                                         "dest_provider": "anthropic"}]}},
         "sk-ant-oat-ccproxy-responses", "rule[0]"),
    ],
)
def test_a_translating_route_refuses_the_upgrade_with_426(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider, config: dict[str, Any],
    sentinel: str, reason: str,
) -> None:
    daemon = daemon_factory(config)
    status, body = _refused(daemon, sentinel)
    assert status == 426
    assert body["error"]["type"] == "ccproxy_websocket_unsupported"
    assert "openai_responses" in body["error"]["message"] and "HTTP" in body["error"]["message"]
    assert not any(r.method == "GET" for r in fake_provider.requests)  # nothing went upstream

    flow = wait_for(lambda: json.loads(daemon.cli("flows", "list", "--json").stdout), 20, 0.1, "the refusal")[-1]
    assert flow["response"]["status_code"] == 426
    assert flow["ccproxy"]["extra"]["websocket"]["reason"] == reason
    assert flow["ccproxy"]["error"].startswith("ccproxy does not translate WebSocket sessions")

    # The daemon keeps serving: Codex's HTTP fallback on the same route is translated as before.
    import openai

    client = openai.OpenAI(base_url=daemon.proxy_url + "/v1", api_key=sentinel, max_retries=0)
    answer = client.responses.create(model="fake-model", input="hi")
    assert answer.output_text


def test_redirect_rule_passes_the_socket_through_with_the_destination_key(
    daemon_factory: Callable[..., RunningDaemon], fake_provider: FakeProvider,
) -> None:
    rule = {"match_path": "^/v1/responses", "action": "redirect", "dest_provider": "responses"}
    daemon = daemon_factory({"inspector": {"transforms": [rule]}})
    fake_provider.required_token = REAL_KEY
    with open_socket(daemon, "sk-ant-oat-ccproxy-anthropic") as ws:
        assert codex_turn(ws)[-1]["response"]["usage"]["output_tokens"] == 4
    upgrades = [r for r in fake_provider.requests if r.method == "GET"]
    assert [r.credential() for r in upgrades] == [REAL_KEY]
    assert not any(SECRETS["FAKE_ANTHROPIC_KEY"] in v for r in upgrades for _, v in r.header_list)
    flow = stored_socket(daemon)
    assert flow["ccproxy"]["transform"]["mode"] == "redirect"


def test_a_socket_the_provider_ends_is_recorded_with_how_it_ended(shared_daemon: RunningDaemon,
                                                                  fake_provider: FakeProvider) -> None:
    """A close frame from the provider, then a dropped connection: the client learns of both, both are stored."""
    codes = []
    for model in ("gpt-close", "gpt-reset"):
        with open_socket(shared_daemon, "sk-ant-oat-ccproxy-responses") as ws:
            ws.send(json.dumps({"type": "response.create", "model": model}))
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=20)
        codes.append(info.value.rcvd.code if info.value.rcvd else None)
    # The provider's close frame reaches the client as sent; a dropped connection arrives as a normal
    # close (1006 may not go over the wire), while the flow records it as 1006.
    assert codes == [1011, 1000]

    def ended() -> list[dict[str, Any]] | None:
        flows = json.loads(shared_daemon.cli("flows", "list", "--json").stdout)
        codes = [(f["ccproxy"].get("websocket") or {}).get("close_code") for f in flows]
        return flows if {1011, 1006} <= set(codes) else None

    flows = wait_for(ended, 30, 0.1, "both sockets recorded with their ends")
    ends = {f["ccproxy"]["websocket"]["close_code"]: f for f in flows if f["ccproxy"].get("websocket")}
    assert ends[1011]["ccproxy"]["websocket"]["closed_by_client"] is False
    assert ends[1011]["ccproxy"]["websocket"]["close_reason"] == "fake provider closed"
    assert ends[1011]["ccproxy"]["websocket"]["sent"] == 1
    text = shared_daemon.cli("flows", "show", ends[1011]["id"]).stdout
    assert "closed by the provider: 1011 (fake provider closed)" in text


def test_a_socket_open_when_the_daemon_stops_is_recorded_with_its_messages(daemon: RunningDaemon) -> None:
    with open_socket(daemon, "sk-ant-oat-ccproxy-responses") as ws:
        codex_turn(ws)
        assert daemon.stop() == 0
    [flow] = json.loads(daemon.cli("flows", "list", "--json").stdout)
    assert flow["ccproxy"]["websocket"]["messages"] == 7 and flow["ccproxy"]["websocket"]["close_code"] == 1006


def test_a_message_carrying_the_sentinel_is_not_relayed(daemon: RunningDaemon, fake_provider: FakeProvider) -> None:
    fake_provider.required_token = REAL_KEY
    with open_socket(daemon, "sk-ant-oat-ccproxy-responses") as ws:
        ws.send(json.dumps({"type": "response.create", "model": "gpt-fake",
                            "api_key": b"sk-ant-oat-ccproxy-respons\\u0065s".decode("unicode_escape")}))
        ws.send('{"type": "response.create", "api_key": "sk-ant-oat-ccproxy-respons\\u0065s "}')
        errors = [json.loads(ws.recv(timeout=20)) for _ in range(2)]
        events = codex_turn(ws)  # the socket keeps serving
    assert [e["type"] for e in errors] == ["error", "error"]
    assert all(e["error"]["type"] == "ccproxy_sentinel_error" for e in errors)
    assert events[-1]["type"] == "response.completed"
    assert len(fake_provider.ws_received) == 1
    assert not any("ccproxy" in str(m) for m in fake_provider.ws_received)
