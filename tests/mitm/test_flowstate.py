"""Flow files mitmproxy writes from ccproxy's flows: the metadata made plain, the dump masked."""

from __future__ import annotations

import io

from mitmproxy import io as mio
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow

from ccproxy.flowmeta import ClientRequest, FlowMeta, get_meta
from ccproxy.mitm.flowstate import masked_state, plain_state

SECRET = "client-own-key-5b2e"


def ccproxy_flow() -> tflow.HTTPFlow:
    flow = tflow.tflow(resp=True)
    flow.request.headers["x-api-key"] = SECRET
    flow.request.headers["content-type"] = "application/json"
    flow.request.content = b'{"refresh_token": "rt-' + SECRET.encode() + b'", "prompt": "hello"}'
    flow.request.path = f"/v1/models?key={SECRET}&alt=sse"
    flow.response.headers["set-cookie"] = f"session={SECRET}; Path=/"
    meta = get_meta(flow)
    meta.client_request = ClientRequest("POST", f"http://h/v1?key={SECRET}", "HTTP/1.1",
                                        [("authorization", f"Bearer {SECRET}")], b"{}")
    meta.upstream_raw.extend(b"data: x\n\n")
    meta.stream_filters.append(lambda b: b)
    meta.extra["auth"] = {"status": 401, "odd": object()}
    return flow


def test_mitmproxys_writer_refuses_flowmeta_and_the_plain_state_is_written() -> None:
    flow = ccproxy_flow()
    assert isinstance(flow.metadata["ccproxy"], FlowMeta)
    try:
        tnetstring.dumps(flow.get_state())
    except ValueError as exc:
        assert "FlowMeta" in str(exc)  # the failure the dump used to log, repr and all
    else:
        raise AssertionError("mitmproxy learned to write FlowMeta; plain_state may be unneeded")
    state = plain_state(flow.get_state())
    back = next(iter(mio.FlowReader(io.BytesIO(tnetstring.dumps(state))).stream()))
    doc = back.metadata["ccproxy"]
    assert doc["source"] == "unknown" and doc["extra"]["auth"] == {"status": 401, "odd": None}
    assert back.request.headers["x-api-key"] == SECRET  # plain, not masked: `save.file` is the user's own


def test_the_dump_masks_every_phase() -> None:
    data = tnetstring.dumps(masked_state(ccproxy_flow().get_state()))
    assert SECRET.encode() not in data
    back = next(iter(mio.FlowReader(io.BytesIO(data)).stream()))
    assert back.request.headers["x-api-key"] == "[REDACTED]"
    assert back.request.path == "/v1/models?key=[REDACTED]&alt=sse"
    assert back.request.json() == {"refresh_token": "[REDACTED]", "prompt": "hello"}
    assert back.response.headers["set-cookie"] == "session=[REDACTED]; Path=/"
    client = back.metadata["ccproxy"]["client_request"]
    assert client["headers"] == [["authorization", "Bearer [REDACTED]"]]
