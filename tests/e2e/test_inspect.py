"""`ccproxy run --inspect`: real clients in the jail, captured and decrypted, against a test host in its own netns."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import urllib.request
import uuid

import pytest

from tests.daemon import RunningDaemon, free_port, wait_for
from tests.namespace.fixtures import (
    API_NAME,
    OTHER_NAME,
    JailRun,
    UpstreamHost,
    requires_jail,
    wait_flow,
)

pytestmark = [pytest.mark.namespace, requires_jail]


def run_jailed(daemon: RunningDaemon, *cmd: str, timeout: float = 60) -> tuple[int, str, str]:
    done = daemon.cli("run", "--inspect", "--", *cmd, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def python_in_jail(daemon: RunningDaemon, code: str) -> tuple[int, str, str]:
    return run_jailed(daemon, sys.executable, "-c", textwrap.dedent(code))


def test_curl_https_is_captured_decrypted_and_tagged_wireguard(
    jail_daemon: RunningDaemon, test_host: UpstreamHost
) -> None:
    marker = uuid.uuid4().hex
    code, out, err = run_jailed(
        jail_daemon, "curl", "-sS", "--max-time", "20", f"{test_host.url}/json?m={marker}"
    )
    assert code == 0, err
    echoed = json.loads(out)
    assert echoed["path"] == f"/json?m={marker}"
    seen = test_host.upstream.requests[-1]
    assert seen.path == f"/json?m={marker}" and seen.peer == test_host.net.gateway
    flow = wait_flow(jail_daemon, f"/json?m={marker}")
    assert flow["ccproxy"]["source"] == "wireguard"
    assert flow["request"]["pretty_host"] == API_NAME and flow["request"]["scheme"] == "https"
    assert flow["response"]["status_code"] == 200


def test_http1_and_http2_keep_their_version_and_header_order(
    jail_daemon: RunningDaemon, test_host: UpstreamHost
) -> None:
    marker = uuid.uuid4().hex
    for flag, version in (("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2.0")):
        code, out, err = run_jailed(
            jail_daemon, "curl", "-sS", flag, "-H", "X-Order: 1", f"{test_host.url}/json?{flag}={marker}"
        )
        assert code == 0, err
        assert json.loads(out)["http_version"] == version  # what the test host saw from mitmproxy
        fp = wait_flow(jail_daemon, f"/json?{flag}={marker}")["ccproxy"]["fingerprint"]
        assert fp["http_version"] == version
        if version == "HTTP/1.1":
            assert fp["header_order"] == ["Host", "User-Agent", "Accept", "X-Order"]
            assert fp["tls"]["alpn"] == ["http/1.1"] and fp["tls"]["negotiated_alpn"] == "http/1.1"
        else:
            assert fp["header_order"] == ["user-agent", "accept", "x-order"]
            assert fp["tls"]["alpn"] == ["h2", "http/1.1"] and fp["tls"]["negotiated_alpn"] == "h2"
        assert fp["tls"]["sni"] == API_NAME and fp["tls"]["version"] == "TLSv1.3"
        assert fp["tls"]["ja4"].startswith("t13d") and len(fp["tls"]["ja3"]) == 32


def test_python_requests_and_httpx_are_captured(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    marker = uuid.uuid4().hex
    code, out, err = python_in_jail(
        jail_daemon,
        f"""
        import httpx, requests
        a = requests.post("{test_host.url}/json?lib=requests&m={marker}", json={{"from": "requests"}}, timeout=20)
        b = httpx.post("{test_host.url}/json?lib=httpx&m={marker}", json={{"from": "httpx"}}, timeout=20)
        print(a.status_code, b.status_code)
        """,
    )
    assert code == 0, err
    assert out.split() == ["200", "200"]
    for lib in ("requests", "httpx"):
        flow = wait_flow(jail_daemon, f"/json?lib={lib}&m={marker}")
        assert flow["ccproxy"]["source"] == "wireguard"
        assert flow["request"]["method"] == "POST"
        seen = next(r for r in test_host.upstream.requests if r.path == f"/json?lib={lib}&m={marker}")
        assert json.loads(seen.body) == {"from": lib}


def test_node_fetch_is_captured(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    marker = uuid.uuid4().hex
    script = (
        f"fetch('{test_host.url}/json?lib=node&m={marker}', {{method: 'POST', body: 'from node'}})"
        ".then(r => r.json()).then(j => console.log(j.body))"
        ".catch(e => { console.error(e); process.exit(3); })"
    )
    code, out, err = run_jailed(jail_daemon, node, "-e", script)
    assert code == 0, err
    assert out.strip() == "from node"
    flow = wait_flow(jail_daemon, f"/json?lib=node&m={marker}")
    assert flow["ccproxy"]["source"] == "wireguard"
    assert flow["ccproxy"]["fingerprint"]["tls"]["sni"] == API_NAME


def test_sse_streams_through_the_jail_incrementally(
    jail_daemon: RunningDaemon, test_host: UpstreamHost
) -> None:
    """The host only sends the second event after the jailed client printed the first: a proxy that
    buffered the stream would deadlock here (bounded by the wait)."""
    gate = uuid.uuid4().hex
    jail = JailRun(
        jail_daemon,
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import httpx
                with httpx.stream("GET", "{test_host.url}/sse?gate={gate}", timeout=30) as r:
                    for line in r.iter_lines():
                        if line.startswith("data:"):
                            print("EVENT", line[5:].strip(), flush=True)
                """
            ),
        ],
    )
    try:
        jail.read_until("EVENT one")
        test_host.upstream.release(gate)
        jail.read_until("EVENT two")
        code, _out, err = jail.wait()
    finally:
        test_host.upstream.release(gate)
        jail.kill()
    assert code == 0, err
    flow = wait_flow(jail_daemon, f"/sse?gate={gate}")
    assert flow["ccproxy"]["source"] == "wireguard"
    assert flow["response"]["headers"][0] == ["content-type", "text/event-stream"]


def test_upstream_certificates_are_verified(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    """A host whose CA is not in inspector.upstream_ca is refused by mitmproxy, even though the jailed
    client trusts whatever mitmproxy presents."""
    _code, out, err = run_jailed(
        jail_daemon, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"https://{OTHER_NAME}:8443/json"
    )
    assert out == "502", (out, err)
    assert not any(r.path == "/json" for r in test_host.untrusted.requests)


def test_jailed_tls_is_issued_by_mitmproxy_ca(jail_daemon: RunningDaemon, test_host: UpstreamHost) -> None:
    code, out, err = python_in_jail(
        jail_daemon,
        f"""
        import socket, ssl
        ctx = ssl.create_default_context()  # no cafile: SSL_CERT_FILE, else the system store
        with socket.create_connection(("{API_NAME}", 443), timeout=20) as raw:
            with ctx.wrap_socket(raw, server_hostname="{API_NAME}") as tls:
                issuer = dict(x[0] for x in tls.getpeercert()["issuer"])
        print(issuer["organizationName"])
        """,
    )
    assert code == 0, err
    assert out.strip() == "mitmproxy"


def test_localhost_in_the_jail_reaches_ccproxy(jail_daemon: RunningDaemon) -> None:
    code, out, err = run_jailed(
        jail_daemon, "curl", "-sS", "--max-time", "10", f"{jail_daemon.proxy_url}/health"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok"


def test_oauth_callback_listener_is_reachable_from_the_host(jail_daemon: RunningDaemon) -> None:
    port = free_port()
    jail = JailRun(
        jail_daemon,
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import http.server
                class H(http.server.BaseHTTPRequestHandler):
                    def do_GET(self):
                        self.send_response(200); self.end_headers(); self.wfile.write(b"signed in")
                        print("GOT", self.path, flush=True)
                    def log_message(self, *a): pass
                srv = http.server.HTTPServer(("127.0.0.1", {port}), H)
                print("LISTENING", flush=True)
                srv.handle_request()
                """
            ),
        ],
    )
    try:
        jail.read_until("LISTENING")

        def callback() -> bytes | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/callback?code=abc", timeout=2) as resp:
                    body: bytes = resp.read()
                    return body
            except OSError:
                return None

        assert wait_for(callback, 15, 0.1, "the host to reach the jail's listener") == b"signed in"
        code, out, err = jail.wait()
    finally:
        jail.kill()
    assert code == 0, err
    assert "GOT /callback?code=abc" in out
