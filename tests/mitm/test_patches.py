"""Every place ccproxy reaches into mitmproxy's internals, checked against the installed mitmproxy.

ccproxy pins mitmproxy 12.2, but each of these relies on a private name or signature that an upgrade
may change without notice. One test per patch point, named after the module that patches it: when
an upgrade breaks one, this file says which patch to revisit (before an e2e test fails obscurely).

| patch point (mitmproxy)                                   | patched in                       |
|-----------------------------------------------------------|----------------------------------|
| `proxy.layers.http._http1.make_error_response`            | `mitm/errorpage.install`         |
| `tools.web.app.ClientConnection.broadcast_flow`           | `mitm/broadcasts.quiet_broadcasts` |
| `io.FlowWriter.add`, `tools.web.app.DumpFlows.get`        | `mitm/flowfiles.safe_flow_files` |
| `proxy.layers.http._http1.Http1Server.read_headers`       | `mitm/headerlimit.install`       |
| `mitmproxy.addons.onboarding` / `proxyauth` (sys.modules) | `mitm/lean.skip_unused_addons`   |
| `addonmanager.AddonManager` (class swap, `trigger_event`) | `mitm/dispatch.HookTable`        |
| `proxy.layers.http.HttpStream.state_*_response_body`      | `mitm/bodywatch.watch_response_bodies` |
| `Proxyserver.connections[...].transports[...].handler`    | `mitm/upstream.upstream_task`    |
| `addons.view.View._store` (insertion order)               | `mitm/viewstore.oldest`          |
| `http.Message.get_content` (subclassed)                   | `store/restore._LazyBody`        |
| `tools.web.app.ExecuteCommand` (`POST /commands/<name>`)  | `cli/flows.run_command`          |
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

import pytest


def params(func: Any) -> list[str]:
    """Parameter names of the original function (a wrapper installed by ccproxy is looked through)."""
    return list(inspect.signature(inspect.unwrap(func)).parameters)


def test_mitmproxy_is_the_version_these_patches_were_written_for() -> None:
    from mitmproxy.version import VERSION

    assert VERSION.split(".")[:2] == ["12", "2"], (
        f"mitmproxy {VERSION}: re-check every patch point in this file, then update this pin"
    )


def test_error_pages_replace_the_http1_error_page_builder() -> None:
    from mitmproxy.proxy.layers.http import _http1

    from ccproxy.mitm import errorpage
    from ccproxy.mitm.errorpage import json_error_response

    assert params(_http1.make_error_response) in (["status_code", "message"], params(json_error_response))
    errorpage.install()
    assert _http1.make_error_response is json_error_response  # looked up at call time by the layer
    assert "make_error_response(" in inspect.getsource(_http1.Http1Server)


def test_quiet_broadcasts_wraps_a_classmethod_that_knows_its_connections() -> None:
    from mitmproxy.tools.web import app

    assert isinstance(inspect.getattr_static(app.ClientConnection, "broadcast_flow"), classmethod)
    assert params(app.ClientConnection.broadcast_flow) == ["type", "f"]
    assert isinstance(app.ClientConnection.connections, set)


def test_safe_flow_files_replaces_the_writer_and_the_dump_handler() -> None:
    from mitmproxy.io import io as mio
    from mitmproxy.tools.web import app

    assert params(mio.FlowWriter.add) == ["self", "f"]
    assert params(mio.FlowWriter.__init__) == ["self", "fo"]
    assert callable(app.DumpFlows.get)
    assert callable(app.AuthRequestHandler._require_auth)
    assert any(route[1] is app.DumpFlows for route in app.handlers if len(route) > 1)


def test_headerlimit_wraps_the_http1_server_head_reader() -> None:
    from h11._receivebuffer import ReceiveBuffer
    from mitmproxy.net.http import http1
    from mitmproxy.proxy.layers.http import _http1
    from mitmproxy.proxy.layers.http._events import ErrorCode, RequestProtocolError

    server = _http1.Http1Server
    assert params(server.read_headers) == ["self", "event"]
    source = inspect.getsource(server.__mro__[1].__init__) + inspect.getsource(server.__init__)
    assert "self.buf" in source and "ReceiveBuffer()" in source
    assert isinstance(ReceiveBuffer(), ReceiveBuffer)
    assert callable(server.done)
    assert params(http1.read_request_head) == ["lines"]
    assert ErrorCode.REQUEST_TOO_LARGE is not None
    assert [f.name for f in dataclasses.fields(RequestProtocolError)][:3] == ["stream_id", "message", "code"]


def test_lean_stubs_the_default_addons_mitmproxy_imports_by_name() -> None:
    from ccproxy.mitm.lean import UNUSED

    source = inspect.getsource(sys.modules["mitmproxy.addons"]) if "mitmproxy.addons" in sys.modules else ""
    if not source:
        import mitmproxy.addons

        source = inspect.getsource(mitmproxy.addons)
    for module, cls in UNUSED.items():
        assert f"from mitmproxy.addons import {module}" in source
        assert f"{module}.{cls}()" in source


def test_dispatch_replaces_the_addon_managers_event_walk() -> None:
    from mitmproxy import addonmanager

    manager = addonmanager.AddonManager
    assert inspect.iscoroutinefunction(manager.trigger_event)
    assert params(manager.trigger_event) == ["self", "event"]
    assert params(manager.invoke_addon) == ["self", "addon", "event"]
    assert callable(addonmanager.traverse) and callable(addonmanager.safecall)
    assert isinstance(inspect.getattr_static(manager, "chain", None), property) or "self.chain" in inspect.getsource(
        manager.__init__
    )


def test_bodywatch_wraps_the_two_body_reading_states_of_an_http_stream() -> None:
    from mitmproxy.proxy.layers.http import HttpStream
    from mitmproxy.proxy.layers.http._events import ResponseData

    for name in ("state_consume_response_body", "state_stream_response_body"):
        assert params(getattr(HttpStream, name)) == ["self", "event"]
    assert "ResponseData" in inspect.getsource(inspect.unwrap(HttpStream.state_consume_response_body))
    assert issubclass(ResponseData, object)


def test_upstream_finds_the_upstream_task_through_the_proxyserver() -> None:
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.proxy import server

    assert isinstance(Proxyserver().connections, dict)
    assert "self.transports" in inspect.getsource(server.ConnectionHandler.__init__)
    assert "handler" in {f.name for f in dataclasses.fields(server.ConnectionIO)}


def test_the_view_keeps_flows_in_insertion_order_in_its_store() -> None:
    from mitmproxy.addons.view import View
    from mitmproxy.test import tflow

    from ccproxy.mitm.viewstore import oldest

    view = View()
    flows = [tflow.tflow(resp=True) for _ in range(3)]
    view.add(list(reversed(flows)))  # added newest first: the store keeps adding order, not time
    assert [f.id for f in oldest(view, 2)] == [flows[2].id, flows[1].id]
    for name in ("remove", "get_by_id", "store_count", "add"):
        assert callable(getattr(view, name))


def test_restored_messages_override_get_content() -> None:
    from mitmproxy import http

    from ccproxy.store.restore import RestoredRequest, RestoredResponse

    assert params(http.Message.get_content) == ["self", "strict"]
    assert "raw_content" in {n for n, _ in inspect.getmembers(http.Message)}
    for cls in (RestoredRequest, RestoredResponse):
        assert cls.get_content is not http.Message.get_content


def test_the_cli_calls_commands_through_mitmwebs_rest_api() -> None:
    from mitmproxy.tools.web import app

    assert any(route[1] is app.ExecuteCommand for route in app.handlers if len(route) > 1)
    source = inspect.getsource(app.ExecuteCommand.post)
    assert '"arguments"' in source and "call_strings" in source


@pytest.mark.parametrize("name", ["ccproxy.view.remove"])
def test_ccproxy_commands_are_registered_with_mitmproxys_command_manager(name: str, tmp_path: Any) -> None:
    from mitmproxy.test import taddons

    from ccproxy.addons.view import FlowView
    from ccproxy.config.model import CCProxyConfig

    with taddons.context(FlowView(CCProxyConfig(), tmp_path)) as tctx:
        assert name in tctx.master.commands.commands
