"""The flow records the answer the client got when the upstream fails before the client saw headers."""

from __future__ import annotations

import asyncio
import json

from mitmproxy import http
from mitmproxy.connection import ConnectionState
from mitmproxy.flow import Error
from mitmproxy.test import tflow

from ccproxy.addons.timeouts import UpstreamTimeouts
from ccproxy.flowmeta import get_meta
from ccproxy.mitm import errorpage as error_pages


def failed_flow(msg: str = "peer closed connection without sending complete message body") -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)  # the provider's 200 headers came, then the body broke
    flow.client_conn.state = ConnectionState.OPEN
    flow.error = Error(msg)
    return flow


def run_error(flow: http.HTTPFlow) -> http.Response:
    """The error hook, then the page mitmproxy sends next from the same task."""

    async def go() -> bytes:
        UpstreamTimeouts(600, 300).error(flow)
        return error_pages.json_error_response(502, "what mitmproxy would have said")

    sent = asyncio.run(go())
    assert flow.response is not None
    assert sent.endswith(flow.response.raw_content or b"?")  # the page sent is the page recorded
    return flow.response


def test_a_body_cut_records_the_502_page_the_client_gets() -> None:
    flow = failed_flow()
    got = run_error(flow)
    assert got.status_code == 502
    body = json.loads(got.raw_content or b"")
    assert body["error"]["type"] == "upstream_unreachable" and "complete message body" in body["error"]["message"]
    upstream = get_meta(flow).upstream_response
    assert upstream is not None and upstream.status_code == 200


def test_a_body_timeout_records_the_504() -> None:
    flow = failed_flow()
    get_meta(flow).timed_out = "the response body was silent for 2 s (ccproxy.inspector.stream_idle_timeout)"
    assert run_error(flow).status_code == 504
    assert flow.error is not None and flow.error.msg.startswith("the response body was silent")


def test_no_page_is_recorded_when_the_client_gets_none() -> None:
    gone, killed, streamed = failed_flow("Client disconnected."), failed_flow(Error.KILLED_MESSAGE), failed_flow()
    gone.client_conn.state = ConnectionState.CLOSED
    assert streamed.response is not None
    streamed.response.stream = True  # headers already went to the client
    for flow in (gone, killed, streamed):
        UpstreamTimeouts(600, 300).error(flow)
        assert flow.response is not None and flow.response.status_code == 200
