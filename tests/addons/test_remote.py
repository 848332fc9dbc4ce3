from __future__ import annotations

import json

from mitmproxy.test import tflow

from ccproxy.addons.remote import TOKEN_HEADER, RemoteClients, is_loopback_peer
from ccproxy.flowmeta import get_meta


def _flow(peer: str, source: str = "reverse", token: str | None = None) -> tflow.HTTPFlow:
    flow = tflow.tflow()
    flow.client_conn.peername = (peer, 50000)
    get_meta(flow).source = source  # type: ignore[assignment]
    if token is not None:
        flow.request.headers[TOKEN_HEADER] = token
    return flow


def test_a_remote_client_without_the_token_gets_401_before_its_body_is_read() -> None:
    addon = RemoteClients("t0ken-abc")
    flow = _flow("192.168.1.20")
    addon.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 401
    assert json.loads(flow.response.content or b"")["error"]["type"] == "ccproxy_remote_auth_error"
    wrong = _flow("192.168.1.20", token="t0ken-abd")
    addon.request(wrong)
    assert wrong.response is not None and wrong.response.status_code == 401


def test_the_token_loopback_and_other_gates_pass() -> None:
    addon = RemoteClients("t0ken-abc")
    for flow in (_flow("192.168.1.20", token="t0ken-abc"), _flow("127.0.0.1"), _flow("::ffff:127.0.0.1"),
                 _flow("10.0.0.2", source="wireguard"), _flow("10.0.0.2", source="forward")):
        addon.requestheaders(flow)
        assert flow.response is None
    off = _flow("192.168.1.20")
    RemoteClients(None).requestheaders(off)  # allow_remote off: the listener is on loopback anyway
    assert off.response is None


def test_loopback_peers() -> None:
    assert is_loopback_peer(("127.0.0.1", 1)) and is_loopback_peer(("::1", 1, 0, 0))
    assert not is_loopback_peer(("::ffff:192.168.0.1", 1)) and not is_loopback_peer(None)
