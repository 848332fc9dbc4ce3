"""Flow files (mitmweb's "Save", `/flows/dump`, `save.file`) that can hold ccproxy's metadata and
mask credentials: `FlowWriter.add` and `DumpFlows.get` replaced."""

from __future__ import annotations

import logging
from typing import Any

from ccproxy.mitm.answers import error_json

log = logging.getLogger("ccproxy.inspector")


def safe_flow_files() -> None:
    """Let mitmproxy write flow files again, and mask what mitmweb's "Save" (`GET /flows/dump`) hands out.

    mitmproxy's writer refuses ccproxy's `FlowMeta` metadata: every flow file failed, and the dump
    answered 500 after logging the refusal with the flow's repr. The writer now writes the metadata
    as its plain JSON form; the dump also masks API keys, tokens and cookies (as `flows dump` does)."""
    from mitmproxy.io import io as mio
    from mitmproxy.io import tnetstring
    from mitmproxy.tools.web import app

    from ccproxy.mitm.flowstate import plain_state

    def add(self: Any, f: Any) -> None:
        tnetstring.dump(plain_state(f.get_state()), self.fo)

    writer: Any = mio.FlowWriter
    writer.add = add
    handler: Any = app.DumpFlows
    # mitmweb wraps each handler method with its token check when the class is made; so must we.
    handler.get = app.AuthRequestHandler._require_auth(_dump_flows)


def _dump_flows(self: Any) -> None:
    """`GET /flows/dump[?filter=EXPR]`: the flows in mitmweb's view as a masked flow file."""
    from io import BytesIO

    from mitmproxy import flowfilter
    from mitmproxy.io import tnetstring

    from ccproxy.mitm.flowstate import masked_state

    expr = self.get_argument("filter", default="")
    try:
        match = flowfilter.parse(expr) if expr else None
    except ValueError as exc:
        _json_error(self, 400, f"invalid filter {expr!r}: {exc}; see mitmproxy's filter expressions")
        return
    try:
        with BytesIO() as bio:
            for f in self.view:
                if match is None or match(f):
                    tnetstring.dump(masked_state(f.get_state()), bio)
            data = bio.getvalue()
    except Exception as exc:  # one unwritable flow must not turn into a traceback with its content
        log.error("mitmweb /flows/dump failed: %s", type(exc).__name__)
        _json_error(self, 500, f"ccproxy could not write the flows ({type(exc).__name__}); "
                    "`ccproxy flows dump` exports the same flows from the store")
        return
    self.set_header("Content-Disposition", "attachment; filename=flows")
    self.set_header("Content-Type", "application/octet-stream")
    self.write(data)


def _json_error(handler: Any, status: int, text: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(error_json(status, text, "ccproxy_dump_error"))
