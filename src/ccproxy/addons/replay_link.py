"""`ccproxy flows replay` marks what it resends with `x-ccproxy-replay-of: <flow id>`: the new flow links to the original."""

from __future__ import annotations

import re

from mitmproxy import http

from ccproxy.flowmeta import get_meta

HEADER = "x-ccproxy-replay-of"
_ID = re.compile(r"[0-9a-fA-F-]{8,64}")


class ReplayLink:
    def request(self, flow: http.HTTPFlow) -> None:
        value = flow.request.headers.pop(HEADER, None)
        if value and _ID.fullmatch(value.strip()):
            get_meta(flow).replay_of = value.strip()
