from __future__ import annotations

import json
import re
from typing import Any

from mitmproxy.test import tflow

from ccproxy.flowmeta import get_meta
from ccproxy.pipeline.context import HookContext
from ccproxy.shapes.ids import RegenerateIds, format_like, regenerate_ids
from ccproxy.shapes.profile import resolve
from ccproxy.shapes.work import ShapeWork
from tests.shapes.conftest import envelope_shape, make_config

OLD_SESSION = "0b6f5c2e-1d2a-4e8f-9a3b-5c6d7e8f9a0b"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_new_ids_keep_the_old_format() -> None:
    assert UUID.match(format_like(OLD_SESSION)) and format_like(OLD_SESSION) != OLD_SESSION
    hex13 = format_like("0123456789abc")
    assert re.fullmatch(r"[0-9a-f]{13}", hex13) and hex13 != "0123456789abc"
    mixed = format_like("req_AbC123xyz")
    assert re.fullmatch(r"[a-z]{3}_[A-Z][a-z][A-Z][0-9]{3}[a-z]{3}", mixed)
    assert format_like(OLD_SESSION, b"seed") == format_like(OLD_SESSION, b"seed")
    assert format_like(OLD_SESSION, b"seed") != format_like(OLD_SESSION, b"other")


def run(body: dict[str, Any], session: str | None, params: RegenerateIds | None = None) -> tuple[dict[str, Any], Any]:
    flow = tflow.tflow()
    flow.request.headers["x-session-marker"] = OLD_SESSION
    get_meta(flow).session_id = session
    shape = envelope_shape()
    work = ShapeWork(shape, resolve(make_config(), "anthropic"), body, flow)
    ctx = HookContext(flow=flow, config=make_config(), stage="shape", params=params, work=work)
    regenerate_ids(ctx)
    return work.body, flow.request.headers


def test_session_id_inside_json_metadata_is_stable_per_client_session_and_headers_follow() -> None:
    user_id = json.dumps({"device_id": "d1d2d3d4", "session_id": OLD_SESSION}, separators=(",", ":"))
    body = {"metadata": {"user_id": user_id}, "user_prompt_id": "0123456789abc"}
    one, headers = run(json.loads(json.dumps(body)), "client-session-1")
    inner = json.loads(one["metadata"]["user_id"])
    assert inner["device_id"] == "d1d2d3d4" and UUID.match(inner["session_id"]) and inner["session_id"] != OLD_SESSION
    assert '", "' not in one["metadata"]["user_id"]  # compact, as captured
    assert headers["x-session-marker"] == inner["session_id"]
    assert re.fullmatch(r"[0-9a-f]{13}", one["user_prompt_id"]) and one["user_prompt_id"] != "0123456789abc"
    again, _ = run(json.loads(json.dumps(body)), "client-session-1")
    other, _ = run(json.loads(json.dumps(body)), "client-session-2")
    assert json.loads(again["metadata"]["user_id"])["session_id"] == inner["session_id"]
    assert again["user_prompt_id"] != one["user_prompt_id"]  # per request
    assert json.loads(other["metadata"]["user_id"])["session_id"] != inner["session_id"]


def test_session_inside_a_legacy_user_id_string_and_custom_paths() -> None:
    legacy = f"user_abcdef_account_1234-5678_session_{OLD_SESSION}"
    body, headers = run({"metadata": {"user_id": legacy}}, None)
    new = body["metadata"]["user_id"]
    assert new.startswith("user_abcdef_account_1234-5678_session_") and OLD_SESSION not in new
    assert headers["x-session-marker"] == new.rsplit("_", 1)[1]
    params = RegenerateIds(request_ids=["trace.id"], session_ids=[], headers=False)
    body, headers = run({"trace": {"id": "abcdef012345"}, "metadata": {"user_id": legacy}}, None, params)
    assert body["trace"]["id"] != "abcdef012345" and body["metadata"]["user_id"] == legacy
    assert headers["x-session-marker"] == OLD_SESSION
