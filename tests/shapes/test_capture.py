"""`shapes save` picks the right flow from a real flow store and writes only the envelope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccproxy.config.model import CCProxyConfig
from ccproxy.errors import ShapeError
from ccproxy.flowmeta import FlowMeta
from ccproxy.shapes.capture import capture
from ccproxy.shapes.profile import resolve
from ccproxy.store.api import store_path
from ccproxy.store.db import FlowStore
from ccproxy.store.record import FlowRecord
from tests.shapes.conftest import capture_body, make_config
from tests.store.factory import make_record

CAPTURED_HEADERS = [
    ["host", "a.test"],
    ["accept", "application/json"],
    ["x-api-key", "sk-real-secret-key-123"],
    ["anthropic-beta", "shape-beta-2025-01-01"],
    ["anthropic-version", "2023-06-01"],
    ["content-type", "application/json"],
    ["cookie", "sid=abc"],
    ["user-agent", "captured-cli/1.2.3"],
    ["x-ccproxy-hooks", "+verbose_mode"],
    ["content-length", "999"],
]


def put(config: CCProxyConfig, directory: Path, *records: FlowRecord) -> None:
    with FlowStore(store_path(config, directory), create=True) as store:
        store.put(list(records))


def record(ts: float, body: dict[str, Any] | None = None, **kw: Any) -> FlowRecord:
    return make_record(ts=ts, forwarded_body=body or capture_body(), forwarded_headers=CAPTURED_HEADERS,
                       path=kw.pop("path", "/v1/messages?beta=true"), **kw)


def test_newest_matching_2xx_flow_becomes_an_envelope_without_secrets(tmp_path: Path) -> None:
    config = make_config({"providers": {"anthropic": {"merge_strategies": {"system": "prepend_shape:1"}}}})
    newest_ok = record(5.0)
    put(config, tmp_path,
        record(1.0),
        newest_ok,
        record(9.0, status=400),  # newer, but refused
        record(8.0, path="/v1/messages/count_tokens"),  # newer, other endpoint
        record(7.0, path="/v1/chat/completions"))
    shape = capture(config, tmp_path, resolve(config, "anthropic"))
    assert shape.source["flow_id"] == newest_ok.id and shape.source["status_code"] == 200
    assert shape.path == "/v1/messages?beta=true" and shape.method == "POST"
    assert shape.headers == [
        ("accept", "application/json"),
        ("anthropic-beta", "shape-beta-2025-01-01"),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
        ("user-agent", "captured-cli/1.2.3"),
    ]
    assert shape.header_order == [h[0] for h in CAPTURED_HEADERS]
    assert shape.body == {"system": capture_body()["system"][:1], "metadata": capture_body()["metadata"]}
    assert shape.key_order == list(capture_body())
    assert set(shape.stripped["headers"]) == {"host", "x-api-key", "cookie", "x-ccproxy-hooks", "content-length"}
    assert "messages" in shape.stripped["content"]
    text = json.dumps(shape.to_json())
    assert "sk-real-secret" not in text and "captured prompt" not in text and "REDACTED" not in text


def test_jq_filters_narrow_the_set_like_every_flows_command(tmp_path: Path) -> None:
    config = make_config()
    older, newer = record(1.0, provider="custom"), record(2.0)
    put(config, tmp_path, older, newer)
    profile = resolve(config, "anthropic")
    assert capture(config, tmp_path, profile).source["flow_id"] == newer.id
    only = 'map(select(.ccproxy.provider == "custom"))'
    assert capture(config, tmp_path, profile, [only]).source["flow_id"] == older.id
    config.flows.default_jq_filters = ['map(select(.ccproxy.provider == "nobody"))']
    with pytest.raises(ShapeError, match="0 flow"):
        capture(config, tmp_path, profile)


def test_a_replayed_flow_is_no_capture(tmp_path: Path) -> None:
    config = make_config()
    plain, shaped = record(1.0), record(2.0)
    shaped.doc["ccproxy"]["shape"] = {"applied": True}
    put(config, tmp_path, plain, shaped)
    assert capture(config, tmp_path, resolve(config, "anthropic")).source["flow_id"] == plain.id


def test_no_match_names_the_pattern_and_its_config_key(tmp_path: Path) -> None:
    config = make_config()
    put(config, tmp_path, record(1.0, status=500))
    with pytest.raises(ShapeError, match=r"'/v1/messages\$'.*shaping\.providers\.anthropic\.capture\.path_pattern"):
        capture(config, tmp_path, resolve(config, "anthropic"))
    with pytest.raises(ShapeError, match="0 flow"):
        capture(config, tmp_path / "empty", resolve(config, "anthropic"))


def test_a_non_json_request_cannot_be_a_shape(tmp_path: Path) -> None:
    config = make_config()
    rec = record(1.0)
    rec.parts["request"] = b"not json at all"
    put(config, tmp_path, rec)
    with pytest.raises(ShapeError, match="not JSON"):
        capture(config, tmp_path, resolve(config, "anthropic"))


def test_meta_to_json_carries_the_shape_record() -> None:
    meta = FlowMeta(shape={"applied": True, "file": "x"})
    assert meta.to_json()["shape"] == {"applied": True, "file": "x"}
