"""The Fingerprint addon: jailed (WireGuard) flows get their ClientHello and header order recorded."""

from __future__ import annotations

from mitmproxy import options
from mitmproxy.proxy import context, mode_specs
from mitmproxy.test import tflow
from mitmproxy.tls import ClientHello, ClientHelloData

from ccproxy.addons.fingerprint import Fingerprint
from ccproxy.addons.inspector import Inspector
from ccproxy.flowmeta import get_meta
from ccproxy.wire.fingerprint import ja4, parse_client_hello
from tests.wire.test_fingerprint import chrome_hello


def jailed_flow(mode: str = "wireguard") -> tflow.HTTPFlow:
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = mode_specs.ProxyMode.parse(mode)
    flow.client_conn.tls_version = "TLSv1.3"
    flow.client_conn.alpn = b"h2"
    flow.request.headers.clear()
    flow.request.headers["Host"] = "api.example.test"
    flow.request.headers["User-Agent"] = "agent/1.0"
    flow.request.headers["x-api-key"] = "sk-secret"
    return flow


def hello_for(flow: tflow.HTTPFlow) -> ClientHelloData:
    ctx = context.Context(flow.client_conn, options.Options())
    return ClientHelloData(ctx, ClientHello(chrome_hello()))


def test_wireguard_flow_gets_tls_and_http_fingerprint() -> None:
    addon, flow = Fingerprint(), jailed_flow()
    addon.tls_clienthello(hello_for(flow))
    Inspector().requestheaders(flow)
    addon.requestheaders(flow)
    fp = get_meta(flow).fingerprint
    assert fp is not None
    assert (
        fp["tls"]["ja4"] == ja4(parse_client_hello(chrome_hello())) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    )
    assert fp["tls"]["sni"] == "tls.browserleaks.com"
    assert fp["tls"]["negotiated_version"] == "TLSv1.3" and fp["tls"]["negotiated_alpn"] == "h2"
    assert fp["header_order"] == ["Host", "User-Agent", "x-api-key"]
    assert "sk-secret" not in str(fp)  # names only, never values
    addon.client_disconnected(flow.client_conn)
    assert addon.hellos == {}


def test_plain_http_jailed_flow_has_no_tls_part() -> None:
    addon, flow = Fingerprint(), jailed_flow()
    Inspector().requestheaders(flow)
    addon.requestheaders(flow)
    fp = get_meta(flow).fingerprint
    assert fp is not None and fp["tls"] is None and fp["http_version"] == flow.request.http_version


def test_reverse_flows_are_not_fingerprinted() -> None:
    addon, flow = Fingerprint(), jailed_flow("reverse:http://example.invalid")
    addon.tls_clienthello(hello_for(flow))
    assert addon.hellos == {}
    Inspector().requestheaders(flow)
    addon.requestheaders(flow)
    assert get_meta(flow).fingerprint is None
