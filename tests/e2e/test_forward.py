"""`ccproxy run --proxy`: real clients through the forward proxy to a TLS fake provider on 127.0.0.2.

The provider's host is an address on loopback that `NO_PROXY` does not list (only `localhost`,
`127.0.0.1` and `::1` stay direct), so the child's traffic to it goes through the proxy while every
byte stays on 127.0.0.0/8. A second TLS host on 127.0.0.3, unknown to the config, stands for the
rest of the internet: its traffic must be tunnelled, not decrypted, and not recorded.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import SECRETS, RunningDaemon, make_daemon, wait_for
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.provider import FakeProvider
from tests.namespace.certs import ScratchCA
from tests.namespace.fixtures import flows_json
from tests.namespace.upstream import Upstream

PROVIDER_IP = "127.0.0.2"
OTHER_IP = "127.0.0.3"


@dataclass
class Hosts:
    ca: ScratchCA
    fake: FakeProvider
    other: Upstream
    other_port: int
    otlp: OtlpReceiver

    @property
    def provider_host(self) -> str:
        return f"{PROVIDER_IP}:{self.fake.port}"

    @property
    def other_url(self) -> str:
        return f"https://{OTHER_IP}:{self.other_port}"


def tls_fake(ca: ScratchCA) -> FakeProvider:
    """The suite's fake provider, serving HTTPS on 127.0.0.2 with a certificate from the scratch CA."""
    cert, key = ca.issue("provider", [], [PROVIDER_IP])
    fake = FakeProvider(host=PROVIDER_IP)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # The handshake runs in the handler thread, so one stuck client cannot block accept().
    fake.server.socket = context.wrap_socket(fake.server.socket, server_side=True, do_handshake_on_connect=False)
    return fake.start()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    ca = ScratchCA(tmp_path_factory.mktemp("forward-ca"))
    fake = tls_fake(ca)
    cert, key = ca.issue("other", [], [OTHER_IP])
    sock = socket.socket()
    sock.bind((OTHER_IP, 0))
    other = Upstream(sock, cert, key)
    otlp = OtlpReceiver().start()
    yield Hosts(ca, fake, other, int(sock.getsockname()[1]), otlp)
    otlp.stop()
    other.close()
    fake.stop()


def https_providers(host: str) -> dict[str, Any]:
    def entry(fmt: str, var: str) -> dict[str, Any]:
        return {"provider": fmt, "host": host, "scheme": "https", "auth": {"type": "env", "env": var}}

    return {"anthropic": entry("anthropic", "FAKE_ANTHROPIC_KEY"), "openai": entry("openai", "FAKE_OPENAI_KEY")}


@pytest.fixture(scope="module")
def fwd_daemon(tmp_path_factory: pytest.TempPathFactory, hosts: Hosts) -> Iterator[RunningDaemon]:
    config = {
        "inspector": {"upstream_ca": str(hosts.ca.pem_path)},
        "providers": https_providers(hosts.provider_host),
        "telemetry": {"otlp": {"endpoint": hosts.otlp.url}},
    }
    env = {"OTEL_BSP_SCHEDULE_DELAY": "50"}
    daemon = make_daemon(tmp_path_factory.mktemp("forward"), None, config, env).start()
    yield daemon
    daemon.stop()


@pytest.fixture
def fake(hosts: Hosts) -> FakeProvider:
    hosts.fake.reset()
    return hosts.fake


def run_proxied(daemon: RunningDaemon, *cmd: str) -> tuple[int, str, str]:
    done = daemon.cli("run", "--proxy", "--", *cmd, timeout=60)
    return done.returncode, done.stdout, done.stderr


def forward_port(daemon: RunningDaemon) -> int:
    return int(daemon.state["listeners"]["forward"]["port"])


def flow_with(daemon: RunningDaemon, marker: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        hits = [f for f in flows_json(daemon) if marker in str(f["request"]["path"])]
        return hits[-1] if hits else None

    found: dict[str, Any] = wait_for(find, 20, 0.1, f"a recorded flow for {marker}")
    return found


def chat_body(marker: str) -> str:
    return json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": f"hi {marker}"}]})


def test_curl_through_the_proxy_is_decrypted_routed_and_stamped_forward(
    fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider
) -> None:
    marker = uuid.uuid4().hex
    code, out, err = run_proxied(
        fwd_daemon, "curl", "-sS", "--max-time", "20",
        f"https://{hosts.provider_host}/v1/chat/completions?m={marker}",
        "-H", "authorization: Bearer sk-ant-oat-ccproxy-openai", "-H", "content-type: application/json",
        "-d", chat_body(marker),
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["object"] == "chat.completion"
    seen = fake.requests[-1]
    assert seen.credential() == SECRETS["FAKE_OPENAI_KEY"]  # the sentinel was swapped, as for jailed flows
    assert "proxy-authorization" not in seen.headers
    flow = flow_with(fwd_daemon, marker)
    assert flow["ccproxy"]["source"] == "forward"
    assert flow["ccproxy"]["provider"] == "openai"
    assert flow["request"]["scheme"] == "https" and flow["request"]["host"] == PROVIDER_IP
    assert flow["ccproxy"]["fingerprint"]["tls"]["sni"] is None  # an IP literal: no SNI, but a ClientHello
    span = wait_for(
        lambda: next((s for s in hosts.otlp.spans if s.attributes.get("ccproxy.flow_id") == flow["id"]), None),
        20, 0.05, "the flow's span",
    )  # fmt: skip
    assert span.attributes["ccproxy.source"] == "forward" and span.attributes["gen_ai.system"] == "openai"
    assert span.attributes["server.address"] == PROVIDER_IP


def test_openai_sdk_with_https_proxy_is_translated_to_anthropic(
    fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider
) -> None:
    """An OpenAI-format call with the anthropic sentinel: transforms apply to forward flows too."""
    marker = uuid.uuid4().hex
    code, out, err = run_proxied(
        fwd_daemon, sys.executable, "-c",
        textwrap.dedent(f"""
        import openai
        client = openai.OpenAI(base_url="https://{hosts.provider_host}/v1", api_key="sk-ant-oat-ccproxy-anthropic")
        r = client.chat.completions.create(model="claude-test", messages=[{{"role": "user", "content": "hi {marker}"}}])
        print(r.choices[0].message.content)
        """),
    )  # fmt: skip
    assert code == 0, err
    assert out.strip()
    seen = next(r for r in fake.requests if marker in r.body.decode())
    assert seen.path == "/v1/messages" and seen.credential() == SECRETS["FAKE_ANTHROPIC_KEY"]
    flows = wait_for(
        lambda: [f for f in flows_json(fwd_daemon) if (f["ccproxy"].get("transform") or {}).get("mode") == "transform"],
        20, 0.1, "the SDK's flow",
    )  # fmt: skip
    meta = flows[-1]["ccproxy"]
    assert meta["source"] == "forward" and meta["provider"] == "anthropic"
    assert meta["client_request"]["url"] == f"https://{hosts.provider_host}/v1/chat/completions"
    assert flows[-1]["request"]["path"] == "/v1/messages"


def test_non_llm_host_is_tunnelled_untouched_and_not_recorded(
    fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider
) -> None:
    marker = uuid.uuid4().hex
    # Only the test CA is trusted: had the proxy decrypted, curl would see mitmproxy's certificate and fail.
    code, out, err = run_proxied(
        fwd_daemon, "curl", "-sS", "--max-time", "20", "--cacert", str(hosts.ca.pem_path),
        f"{hosts.other_url}/json?m={marker}",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["path"] == f"/json?m={marker}"
    assert any(r.path == f"/json?m={marker}" for r in hosts.other.requests)
    # A provider call after it is recorded; once it is, the tunnelled one would have been too.
    later = uuid.uuid4().hex
    code, _, err = run_proxied(
        fwd_daemon, "curl", "-sS", "--max-time", "20", f"https://{hosts.provider_host}/v1/chat/completions?m={later}",
        "-H", "authorization: Bearer sk-ant-oat-ccproxy-openai", "-d", chat_body(later),
    )  # fmt: skip
    assert code == 0, err
    later_id = flow_with(fwd_daemon, later)["id"]
    everything = json.dumps(flows_json(fwd_daemon))
    assert marker not in everything and OTHER_IP not in everything
    # Nor is it exported: the provider call after it has its span, the tunnel has none.
    wait_for(lambda: any(s.attributes.get("ccproxy.flow_id") == later_id for s in hosts.otlp.spans), 20, 0.05, "a span")
    assert not any(OTHER_IP in str(s.attributes) for s in hosts.otlp.spans)


def raw_proxy(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize("auth", [None, "ccproxy:wrong", "other:x"])
def test_missing_or_wrong_proxy_credential_gets_407(
    fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider, auth: str | None
) -> None:
    import base64

    header = f"Proxy-Authorization: Basic {base64.b64encode(auth.encode()).decode()}\r\n" if auth else ""
    port = forward_port(fwd_daemon)
    connect = raw_proxy(port, f"CONNECT {hosts.provider_host} HTTP/1.1\r\nHost: {hosts.provider_host}\r\n{header}\r\n".encode())
    assert connect.startswith(b"HTTP/1.1 407"), connect
    assert b'proxy-authenticate: Basic realm="ccproxy"' in connect.lower().replace(b"basic", b"Basic")
    plain = raw_proxy(
        port,
        f"GET http://{OTHER_IP}:{hosts.other_port}/x HTTP/1.1\r\nHost: {OTHER_IP}\r\n{header}"
        "Connection: close\r\n\r\n".encode(),
    )
    assert plain.startswith(b"HTTP/1.1 407"), plain
    assert fake.requests == []


def test_curl_without_the_credential_is_refused(fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider) -> None:
    url = f"https://{hosts.provider_host}/v1/chat/completions"
    proxy = f"http://127.0.0.1:{forward_port(fwd_daemon)}"
    done = fwd_daemon.cli("run", "--", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}",
                          "-x", proxy, "-k", url, "-d", "{}")  # fmt: skip
    assert done.returncode != 0 and done.stdout == "407", (done.stdout, done.stderr)
    assert fake.requests == []


def test_state_file_holds_the_credential_and_the_listener_url_does_not(fwd_daemon: RunningDaemon) -> None:
    path = fwd_daemon.config_dir / "ccproxy.state.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    state = fwd_daemon.state
    secret = state["extra"]["forward_proxy"]
    assert secret["username"] == "ccproxy" and len(secret["password"]) >= 24
    assert secret["password"] not in state["listeners"]["forward"]["url"]
    assert secret["password"] not in fwd_daemon.log_text()


def test_child_environment(fwd_daemon: RunningDaemon) -> None:
    code, out, err = run_proxied(
        fwd_daemon, sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"
    )
    assert code == 0, err
    env = json.loads(out)
    secret = fwd_daemon.state["extra"]["forward_proxy"]
    expected = f"http://ccproxy:{secret['password']}@127.0.0.1:{forward_port(fwd_daemon)}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        assert env[var] == expected
    assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1"
    bundle = Path(env["SSL_CERT_FILE"])
    ca = (fwd_daemon.config_dir / "mitmproxy-ca-cert.pem").read_text().strip()
    assert ca in bundle.read_text()
    for var in ("NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert env[var] == str(bundle)
    assert "ANTHROPIC_BASE_URL" not in env  # clients keep talking to their real hosts


def test_inspect_without_the_jail_suggests_proxy(fwd_daemon: RunningDaemon) -> None:
    """No jail tools on PATH stands for a machine that cannot make the jail."""
    done = fwd_daemon.cli("run", "--inspect", "--", "true", env={"PATH": "/nonexistent"})
    assert done.returncode == 1
    assert "ccproxy run --proxy -- CMD" in done.stderr


def test_forward_listener_can_be_turned_off(tmp_path: Path, hosts: Hosts) -> None:
    config = {"inspector": {"forward": {"enabled": False}}, "providers": https_providers(hosts.provider_host)}
    daemon = make_daemon(tmp_path / "off", None, config).start()
    try:
        assert "forward" not in daemon.state["listeners"]
        done = daemon.cli("run", "--proxy", "--", "true")
        assert done.returncode == 1 and "inspector.forward.enabled" in done.stderr
    finally:
        daemon.stop()


def mitmweb_urls(daemon: RunningDaemon) -> list[str]:
    import urllib.request

    req = urllib.request.Request(
        daemon.inspector_url + "/flows", headers={"authorization": f"Bearer {daemon.state['web_token']}"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return [f"{f['request']['host']}:{f['request']['port']}{f['request']['path']}" for f in json.load(resp)]


def test_plain_http_to_other_hosts_is_forwarded_unrecorded_and_never_gets_a_credential(
    fwd_daemon: RunningDaemon, fake_provider: FakeProvider
) -> None:
    """`http://` through the proxy (curl --noproxy '' ignores NO_PROXY, so 127.0.0.1 goes via the proxy)."""
    marker = uuid.uuid4().hex
    url = f"{fake_provider.url}/v1/models?m={marker}"
    code, out, err = run_proxied(fwd_daemon, "curl", "-sS", "--max-time", "20", "--noproxy", "", url)
    assert code == 0, err
    assert json.loads(out)["object"] == "list"
    seen = fake_provider.requests[-1]
    assert seen.path.endswith(marker) and "proxy-authorization" not in seen.headers
    # A sentinel to a host that is no provider is refused, not swapped for a real credential.
    code, out, err = run_proxied(
        fwd_daemon, "curl", "-sS", "--max-time", "20", "--noproxy", "", f"{url}&s=1",
        "-H", "authorization: Bearer sk-ant-oat-ccproxy-openai",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out).get("error", {}).get("type") == "ccproxy_sentinel_error", out
    assert not any(r.path.endswith(f"{marker}&s=1") for r in fake_provider.requests)
    wait_for(lambda: not any(marker in u for u in mitmweb_urls(fwd_daemon)), 20, 0.1, "mitmweb to drop the flows")
    later = uuid.uuid4().hex
    run_proxied(
        fwd_daemon, "curl", "-sS", "--max-time", "20", f"https://{hosts_provider(fwd_daemon)}/v1/chat/completions?m={later}",
        "-H", "authorization: Bearer sk-ant-oat-ccproxy-openai", "-d", chat_body(later),
    )  # fmt: skip
    flow_with(fwd_daemon, later)
    assert marker not in json.dumps(flows_json(fwd_daemon))


def hosts_provider(daemon: RunningDaemon) -> str:
    return str(daemon.config["ccproxy"]["providers"]["openai"]["host"])


def test_an_http2_client_hit_by_a_mid_body_failure_is_recorded_with_the_answer_it_got(
    fwd_daemon: RunningDaemon, hosts: Hosts, fake: FakeProvider
) -> None:
    marker = uuid.uuid4().hex
    body = json.dumps({"model": "gpt-halfbody", "messages": [{"role": "user", "content": f"hi {marker}"}]})
    _, out, err = run_proxied(
        fwd_daemon, "curl", "-sS", "--http2", "--max-time", "20", "-w", "\n%{http_code} %{http_version} %{content_type}",
        f"https://{hosts.provider_host}/v1/chat/completions?m={marker}",
        "-H", "authorization: Bearer sk-ant-oat-ccproxy-openai", "-H", "content-type: application/json", "-d", body,
    )  # fmt: skip
    page, status = out.rsplit("\n", 1)
    assert status == "502 2 application/json", (out, err)  # the provider's 200 broke off: a JSON 502 over HTTP/2
    assert json.loads(page)["error"]["type"] == "upstream_unreachable"
    flow = wait_for(lambda: (f := flow_with(fwd_daemon, marker)).get("error") and f, 20, 0.1, "the failed flow")
    assert flow["response"]["status_code"] == 502, flow["response"]  # what the client got, not the provider's 200
    assert [v for k, v in flow["response"]["headers"] if k.lower() == "content-type"] == ["application/json"]
    assert flow["ccproxy"]["upstream_response"]["status_code"] == 200
