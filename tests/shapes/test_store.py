"""Both shape forms round-trip; the .mflow is read back by mitmproxy's own reader and by `mitmdump -nr`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy import io as mio

from ccproxy.errors import ShapeError
from ccproxy.shapes.envelope import MARKER
from ccproxy.shapes.store import ShapeStore, check_name
from tests.shapes.conftest import envelope_shape


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_json_form_round_trips_with_mode_0600(shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    shape = envelope_shape()
    saved = store.save(shape, "json")
    assert saved.path == shapes_dir / "anthropic.json" and mode(saved.path) == 0o600
    found = store.load("anthropic")
    assert found is not None
    sf, back = found
    assert sf.form == "json" and back == shape
    assert b'"ccproxy_shape": 1' in saved.path.read_bytes()


def test_mflow_form_is_one_request_only_flow_mitmproxy_reads(shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    shape = envelope_shape()
    saved = store.save(shape, "mflow", "https", "a.test", 443)
    assert mode(saved.path) == 0o600
    with saved.path.open("rb") as fh:
        flows = list(mio.FlowReader(fh).stream())
    assert len(flows) == 1
    flow = flows[0]
    assert isinstance(flow, http.HTTPFlow) and flow.response is None and flow.error is None
    assert flow.request.pretty_url == "https://a.test/v1/messages?beta=true"
    assert [(k, v) for k, v in flow.request.headers.items(multi=True)] == shape.headers
    assert "content-length" not in flow.request.headers
    assert flow.request.json() == shape.body
    assert flow.metadata[MARKER]["header_order"] == shape.header_order
    found = store.load("anthropic")
    assert found is not None and found[1] == shape and found[0].form == "mflow"


def test_mitmdump_reads_the_mflow(shapes_dir: Path, tmp_path: Path) -> None:
    """mitmdump prints flows on response; a request-only flow is shown through a one-line addon."""
    saved = ShapeStore(shapes_dir).save(envelope_shape(), "mflow", "https", "a.test", 443)
    script = tmp_path / "show.py"
    script.write_text(
        "def request(flow):\n"
        "    print('READ', flow.request.method, flow.request.pretty_url, len(flow.request.headers),"
        " flow.response is None)\n"
    )
    mitmdump = Path(sys.executable).with_name("mitmdump")

    def dump(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(mitmdump), "-nr", str(path), "-s", str(script), "--set", f"confdir={tmp_path / 'mitm'}"],
            capture_output=True, text=True, timeout=60,
        )

    done = dump(saved.path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "READ POST https://a.test/v1/messages?beta=true 7 True" in done.stdout
    broken = tmp_path / "broken.mflow"
    broken.write_bytes(saved.path.read_bytes()[:-5])
    assert dump(broken).returncode != 0


def test_saving_one_form_replaces_the_other_and_two_forms_are_an_error(shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    store.save(envelope_shape(), "json")
    store.save(envelope_shape(), "mflow", "https", "a.test", 443)
    assert [f.path.name for f in store.files()] == ["anthropic.mflow"]
    store.save(envelope_shape(), "json")
    assert [f.path.name for f in store.files()] == ["anthropic.json"]
    (shapes_dir / "anthropic.mflow").write_bytes(b"")
    with pytest.raises(ShapeError, match="two shapes"):
        store.load("anthropic")


def test_load_sees_a_newer_file_and_reports_a_broken_one(shapes_dir: Path) -> None:
    store = ShapeStore(shapes_dir)
    assert store.load("anthropic") is None
    store.save(envelope_shape(), "json")
    first = store.load("anthropic")
    assert first is not None
    changed = envelope_shape()
    changed.headers.append(("x-extra", "1"))
    store.save(changed, "json")
    second = store.load("anthropic")
    assert second is not None and ("x-extra", "1") in second[1].headers
    second[1].headers.clear()  # callers get copies: the cache stays intact
    third = store.load("anthropic")
    assert third is not None and ("x-extra", "1") in third[1].headers
    (shapes_dir / "anthropic.json").write_text("{not json")
    os.utime(shapes_dir / "anthropic.json", ns=(1, 1))
    with pytest.raises(ShapeError, match=r"anthropic\.json: not JSON"):
        store.load("anthropic")


def test_provider_names_must_be_safe_file_names() -> None:
    assert check_name("my-provider_2.x") == "my-provider_2.x"
    for bad in ("../etc", "a/b", ".hidden", ""):
        with pytest.raises(ShapeError):
            check_name(bad)
