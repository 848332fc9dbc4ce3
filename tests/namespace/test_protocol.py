"""The typed host <-> jail messages: each survives JSON and the channel, and reads back as itself."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from ccproxy.errors import NamespaceError
from ccproxy.namespace.control import Channel, recv_blocking, send_blocking
from ccproxy.namespace.protocol import (
    MESSAGES,
    Connect,
    Connected,
    Error,
    Exit,
    Hello,
    Inbound,
    Kill,
    Listen,
    Message,
    Op,
    Signal,
    Spec,
    Started,
    Unlisten,
    decode,
)

SPEC = Spec(
    setconf="[Interface]\nPrivateKey = x\n",
    endpoint="10.0.2.2:51820",
    allow_kernel=False,
    mounts=[("/tmp/p/resolv.conf", "/etc/resolv.conf")],
    local_ports=[8080, 8081],
    cmd=["curl", "-s", "https://example.test"],
    env={"SSL_CERT_FILE": "/tmp/p/ca.pem"},
    uid=1000,
    gid=1000,
    map_user=True,
    cwd="/home/u",
    log="/tmp/p/jail.log",
    tools={"unshare": "/usr/bin/unshare"},
)
ALL: list[Message] = [
    Hello(), SPEC, Started(42), Error("no tun"), Exit(3), Connect(8080, 7), Connected(7),
    Listen(3000), Unlisten(3000), Inbound(3000), Signal(15), Kill(),
]  # fmt: skip


def test_every_op_has_a_message_and_each_round_trips_through_json() -> None:
    assert set(MESSAGES) == set(Op) == {m.op for m in ALL}
    for message in ALL:
        raw = json.loads(json.dumps(message.to_json()))
        assert raw["op"] == message.op.value
        assert decode(raw) == message


def test_the_wire_form_is_the_flat_json_object_both_sides_always_spoke() -> None:
    assert Connect(8080, 7).to_json() == {"op": "connect", "port": 8080, "id": 7}
    assert Exit(5).to_json() == {"op": "exit", "returncode": 5}
    assert SPEC.to_json()["mounts"] == [["/tmp/p/resolv.conf", "/etc/resolv.conf"]]
    assert len(SPEC.to_json()) == 14


def test_an_unknown_op_is_ignored_and_a_short_message_is_a_clear_error() -> None:
    assert decode({"op": "teleport"}) is None
    with pytest.raises(NamespaceError, match=r"'connect' message lacks \['id'\]"):
        decode({"op": "connect", "port": 1})


def test_messages_cross_the_real_channel() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    send_blocking(a, SPEC.to_json())
    assert decode(recv_blocking(b, 5)) == SPEC

    async def scenario() -> None:
        left, right = Channel(a), Channel(b)
        await left.send(Signal(2).to_json())
        raw, fds = await right.recv()
        assert decode(raw) == Signal(2) and fds == []
        left.close()
        right.close()

    asyncio.run(scenario())
