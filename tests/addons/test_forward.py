"""The ForwardProxy addon: the credential on the forward listener only, and which CONNECT targets are decrypted."""

from __future__ import annotations

from mitmproxy import options
from mitmproxy.proxy import context, layer, layers, mode_specs
from mitmproxy.test import tflow

from ccproxy.addons.forward import ForwardProxy
from ccproxy.addons.inspector import Inspector
from ccproxy.config.model import CCProxyConfig
from ccproxy.flowmeta import get_meta
from ccproxy.forward.credential import ProxyCredential

CRED = ProxyCredential("ccproxy", "s3cret-token")


def config() -> CCProxyConfig:
    return CCProxyConfig.model_validate(
        {
            "providers": {"anthropic": {"provider": "anthropic", "host": "api.anthropic.com"}},
            "inspector": {"forward": {"intercept_hosts": ["*.llm.example"]}},
        }
    )


def flow_in(mode: str, method: str = "GET", host: str = "api.anthropic.com") -> tflow.HTTPFlow:
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = mode_specs.ProxyMode.parse(mode)
    flow.request.method = method
    flow.request.host = host
    return flow


def test_connect_without_credential_gets_407_and_the_tunnel_is_not_trusted() -> None:
    addon, flow = ForwardProxy(config(), CRED), flow_in("regular", "CONNECT")
    addon.http_connect(flow)
    assert flow.response is not None and flow.response.status_code == 407
    assert flow.response.headers["proxy-authenticate"] == 'Basic realm="ccproxy"'
    assert flow.client_conn not in addon.authenticated


def test_connect_with_credential_is_accepted_stripped_and_covers_the_tunnel() -> None:
    addon, connect = ForwardProxy(config(), CRED), flow_in("regular", "CONNECT")
    connect.request.headers["Proxy-Authorization"] = CRED.header()
    addon.http_connect(connect)
    assert connect.response is None and "proxy-authorization" not in connect.request.headers
    inner = flow_in("regular")
    inner.client_conn = connect.client_conn  # a request inside the tunnel carries no credential
    addon.requestheaders(inner)
    assert inner.response is None and not get_meta(inner).internal


def test_plain_request_needs_the_credential_and_a_refusal_is_not_recorded() -> None:
    addon, flow = ForwardProxy(config(), CRED), flow_in("regular")
    flow.request.headers["Proxy-Authorization"] = ProxyCredential("ccproxy", "wrong").header()
    addon.requestheaders(flow)
    assert flow.response is not None and flow.response.status_code == 407
    assert get_meta(flow).internal is True


def test_plain_request_to_other_host_is_forwarded_but_not_recorded() -> None:
    addon = ForwardProxy(config(), CRED)
    other, llm = flow_in("regular", host="example.org"), flow_in("regular", host="x.llm.example")
    for flow in (other, llm):
        flow.request.headers["Proxy-Authorization"] = CRED.header()
        addon.requestheaders(flow)
        assert flow.response is None and "proxy-authorization" not in flow.request.headers
    assert get_meta(other).internal is True
    assert not get_meta(llm).internal


def test_reverse_and_wireguard_flows_are_untouched() -> None:
    addon = ForwardProxy(config(), CRED)
    for mode in ("reverse:http://127.0.0.1:1", "wireguard"):
        flow = flow_in(mode, host="example.org")
        addon.requestheaders(flow)
        addon.http_connect(flow)
        assert flow.response is None and not get_meta(flow).extra


def next_layer_for(mode: str, address: tuple[str, int] | None) -> layer.NextLayer:
    flow = flow_in(mode)
    ctx = context.Context(flow.client_conn, options.Options())
    ctx.server.address = address
    return layer.NextLayer(ctx)


def test_only_llm_connect_targets_are_decrypted() -> None:
    addon = ForwardProxy(config(), CRED)
    other = next_layer_for("regular", ("example.org", 443))
    addon.next_layer(other)
    assert isinstance(other.layer, layers.TCPLayer)
    for host in ("api.anthropic.com", "API.Anthropic.com.", "a.llm.example"):
        llm = next_layer_for("regular", (host, 443))
        addon.next_layer(llm)
        assert llm.layer is None  # mitmproxy's own decision stands: TLS is intercepted
    jailed = next_layer_for("wireguard", ("example.org", 443))
    addon.next_layer(jailed)
    assert jailed.layer is None
    first = next_layer_for("regular", None)  # the proxy connection itself, before any CONNECT
    addon.next_layer(first)
    assert first.layer is None


def test_forward_flows_are_stamped_forward() -> None:
    flow = flow_in("regular")
    Inspector().requestheaders(flow)
    assert get_meta(flow).source == "forward"
