"""`shapes audit`: a saved shape passes; each way of breaking one is named by its invariant."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.config.model import CCProxyConfig
from ccproxy.shapes import mflow
from ccproxy.shapes.audit import audit
from ccproxy.shapes.envelope import Shape
from ccproxy.shapes.store import ShapeStore
from tests.shapes.conftest import envelope_shape, make_config


@pytest.fixture
def prepend_config() -> CCProxyConfig:
    return make_config({"providers": {"anthropic": {"merge_strategies": {"system": "prepend_shape:1"}}}})


def invariants(config: CCProxyConfig, directory: Path) -> dict[str, list[str]]:
    return {Path(r.file).name: [p.invariant for p in r.problems] for r in audit(config, directory)}


def test_saved_shapes_in_both_forms_pass(prepend_config: CCProxyConfig, shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    store.save(envelope_shape(), "json")
    store.save(envelope_shape("custom"), "mflow", "https", "c.test", 443)
    reports = audit(prepend_config, shapes_dir)
    assert [(Path(r.file).name, r.ok) for r in reports] == [("anthropic.json", True), ("custom.mflow", False)]
    # `custom` has no prepend strategy, so its stored system preamble is content that should be gone:
    assert [p.invariant for p in reports[1].problems] == ["content_fields_absent"]
    assert audit(prepend_config, shapes_dir / "none") == []


def edit_json(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / "anthropic.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


BREAKS: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("request_only", lambda d: d.update(response={"status_code": 200})),
    ("no_credentials", lambda d: d["request"]["headers"].append(["x-api-key", "sk-live-123"])),
    ("no_credentials", lambda d: d["request"]["headers"].append(["cookie", "sid=1"])),
    ("no_credentials", lambda d: d["request"]["headers"].append(["x-ccproxy-hooks", "-shape"])),
    ("no_credentials", lambda d: d["request"].update(path="/v1/messages?key=abc")),
    ("no_credentials", lambda d: d["request"]["body"]["metadata"].update(note="sk-ant-oat-ccproxy-anthropic")),
    ("parseable_body", lambda d: d["request"].update(body="[1, 2]")),
    ("capture_pattern", lambda d: d["request"].update(path="/v1/complete")),
    ("content_fields_absent", lambda d: d["request"]["body"].update(messages=[{"role": "user", "content": "x"}])),
    ("content_fields_absent", lambda d: d["request"]["body"]["system"].append({"type": "text", "text": "2"})),
    ("well_formed", lambda d: d.pop("ccproxy_shape")),
    ("well_formed", lambda d: d["request"].update(headers={"a": "b"})),
]


@pytest.mark.parametrize(("invariant", "change"), BREAKS)
def test_each_broken_invariant_is_named(prepend_config: CCProxyConfig, shapes_dir: Path, invariant: str,
                                        change: Callable[[dict[str, Any]], None]) -> None:
    ShapeStore(shapes_dir).save(envelope_shape(), "json")
    edit_json(shapes_dir, change)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.json": [invariant]}


def test_file_level_invariants(prepend_config: CCProxyConfig, shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    store.save(envelope_shape(), "json")
    (shapes_dir / "anthropic.json").chmod(0o644)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.json": ["private_file"]}
    (shapes_dir / "anthropic.json").chmod(0o600)
    (shapes_dir / "nobody.json").write_bytes((shapes_dir / "anthropic.json").read_bytes())
    (shapes_dir / "nobody.json").chmod(0o600)
    assert invariants(prepend_config, shapes_dir)["nobody.json"] == ["known_provider"]
    (shapes_dir / "nobody.json").unlink()
    (shapes_dir / "anthropic.mflow").write_bytes(b"3:abc")
    (shapes_dir / "anthropic.mflow").chmod(0o600)
    found = invariants(prepend_config, shapes_dir)
    assert found["anthropic.json"] == ["one_per_provider"]
    assert found["anthropic.mflow"] == ["well_formed", "one_per_provider"]
    (shapes_dir / "anthropic.json").write_text("{")
    assert invariants(prepend_config, shapes_dir)["anthropic.json"][0] == "well_formed"


def write_flows(path: Path, *flows: http.HTTPFlow) -> None:
    data = b"".join(mflow.dumps(f) for f in flows)
    path.write_bytes(data)
    path.chmod(0o600)


def test_mflow_with_a_response_or_two_flows_or_a_credential_is_caught(prepend_config: CCProxyConfig,
                                                                    shapes_dir: Path) -> None:
    good = envelope_shape()
    flow = mflow.to_flow(good, "https", "a.test", 443)
    shapes_dir.mkdir()
    target = shapes_dir / "anthropic.mflow"
    write_flows(target, flow)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": []}
    with_response = flow.copy()
    with_response.response = tflow.tresp()
    write_flows(target, with_response)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": ["request_only"]}
    write_flows(target, flow, flow.copy())
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": ["well_formed"]}
    leaky = flow.copy()
    leaky.request.headers["authorization"] = "Bearer sk-live"
    write_flows(target, leaky)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": ["no_credentials"]}
    plain_text = flow.copy()
    plain_text.request.content = b"hello"
    write_flows(target, plain_text)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": ["parseable_body"]}


def test_a_hand_made_mflow_without_ccproxy_metadata_is_accepted(prepend_config: CCProxyConfig,
                                                                shapes_dir: Path) -> None:
    shape = Shape("anthropic", "POST", "/v1/messages", [("user-agent", "x/1")], {"metadata": {"user_id": "u"}})
    flow = mflow.to_flow(shape, "https", "a.test", 443)
    flow.metadata = {}
    shapes_dir.mkdir()
    write_flows(shapes_dir / "anthropic.mflow", flow)
    assert invariants(prepend_config, shapes_dir) == {"anthropic.mflow": []}
    loaded = ShapeStore(shapes_dir).load("anthropic")
    assert loaded is not None and loaded[1].header_order == ["user-agent"] and loaded[1].key_order == ["metadata"]
