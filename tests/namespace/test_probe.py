"""The doctor's probe checks, run here against local servers (the jail runs the same code)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ccproxy.namespace.probe import check_dns, check_localhost, ipv6_report, timed


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/health" else 404
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_localhost_check(health_port: int) -> None:
    assert "answered /health" in check_localhost(health_port)
    result = timed(lambda: check_localhost(1))
    assert result["ok"] is False and "ConnectionRefusedError" in result["detail"]


def test_dns_check_resolves_through_the_system_resolver() -> None:
    assert check_dns("localhost").endswith("127.0.0.1")
    assert timed(lambda: check_dns("nowhere.invalid"))["ok"] is False


def test_ipv6_report_is_information_only() -> None:
    report = ipv6_report()
    assert set(report) == {"routed", "detail"} and isinstance(report["routed"], bool)
    json.dumps(report)
