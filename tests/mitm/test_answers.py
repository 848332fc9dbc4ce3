"""ccproxy's own answers come from one module, `mitm/answers.py`."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy.test import tflow

from ccproxy.flowmeta import get_meta
from ccproxy.mitm import answers as errors
from ccproxy.wire.neutral import ApiError

SRC = Path(errors.__file__).resolve().parent.parent
#: Modules that may spell an error body out: the owner and the wire formats it builds through (the
#: inbound auth hook, which may not import `addons/`, builds its body through `wire/` too).
OWNERS = {"mitm/answers.py"}


def test_no_other_module_builds_an_error_body_by_hand() -> None:
    by_hand = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
        if '"type": "error"' in p.read_text() and str(p.relative_to(SRC)) not in OWNERS
        and p.parent.name != "wire"
    )
    assert by_hand == []


def test_nothing_in_addons_imports_daemon() -> None:
    importers = sorted(p.name for p in (SRC / "addons").glob("*.py") if "from ccproxy.daemon" in p.read_text())
    assert importers == []


def test_an_answer_is_the_anthropic_error_shape_and_the_flows_error() -> None:
    flow = tflow.tflow()
    errors.answer(flow, 426, "ccproxy_websocket_unsupported", "use HTTP", close=True)
    assert flow.response is not None and flow.response.status_code == 426
    assert flow.response.headers["connection"] == "close"
    assert json.loads(flow.response.content or b"") == {
        "type": "error", "error": {"type": "ccproxy_websocket_unsupported", "message": "use HTTP"},
    }
    assert get_meta(flow).error == "use HTTP"


def test_an_answer_in_the_clients_format_goes_through_wire() -> None:
    flow = tflow.tflow()
    errors.answer_in_format(flow, "openai", ApiError("invalid_request", "bad model", 400))
    assert flow.response is not None and flow.response.status_code == 400
    body = json.loads(flow.response.content or b"")
    assert body["error"]["message"] == "bad model" and "type" not in body  # OpenAI's shape, not Anthropic's
    assert get_meta(flow).error == "bad model"
