"""`shapes.api`: what `shapes save|list` and the MCP shape tools share, over a real flow store and shapes dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccproxy.errors import ConfigError, ShapeError, UsageError
from ccproxy.shapes.api import list_shapes, save
from tests.shapes.conftest import make_config
from tests.shapes.test_capture import put, record


def test_save_writes_a_private_json_shape_and_answers_names_only(tmp_path: Path) -> None:
    config = make_config()
    older, newest = record(1.0), record(2.0)
    put(config, tmp_path, older, newest)
    saved = save(config, tmp_path, "anthropic")
    path = tmp_path / "shapes" / "anthropic.json"
    assert saved.file.path == path and path.stat().st_mode & 0o777 == 0o600
    assert (saved.provider, saved.form, saved.flow_id, saved.replaced) == ("anthropic", "json", newest.id, None)
    doc = saved.to_json()
    assert doc["endpoint"] == saved.endpoint == f"POST {newest.doc['request']['pretty_host']}/v1/messages?beta=true"
    assert doc["file"] == str(path) and doc["status_code"] == 200
    assert "x-api-key" in doc["removed"]["headers"] and "messages" in doc["removed"]["content"]
    assert doc["headers"] == ["accept", "anthropic-beta", "anthropic-version", "content-type", "user-agent"]
    answer, written = json.dumps(doc), path.read_text()
    assert "sk-real-secret" not in answer + written and "captured prompt" not in answer + written
    assert "shape-beta-2025-01-01" not in answer, "the answer carries header names, not values"


def test_mflow_replaces_the_json_form_and_list_shows_one_row_per_file(tmp_path: Path) -> None:
    config = make_config()
    rec = record(1.0)
    put(config, tmp_path, rec)
    save(config, tmp_path, "anthropic")
    saved = save(config, tmp_path, "anthropic", mflow=True)
    assert saved.form == "mflow" and saved.replaced == tmp_path / "shapes" / "anthropic.json"
    assert not saved.replaced.exists()
    (tmp_path / "shapes" / "custom.json").write_text("{not json")
    good, broken = list_shapes(config, tmp_path)  # by provider name
    assert broken["provider"] == "custom" and "not JSON" in broken["error"]
    assert (good["provider"], good["form"], good["flow_id"], good["method"]) == ("anthropic", "mflow", rec.id, "POST")
    assert good["body_keys"] == ["metadata"] and good["headers"] == 5  # system is content by default


def test_errors_name_the_problem(tmp_path: Path) -> None:
    config = make_config()
    put(config, tmp_path, record(1.0, status=500))
    with pytest.raises(ConfigError, match="no provider named 'nobody'"):
        save(config, tmp_path, "nobody")
    with pytest.raises(ShapeError, match="cannot name a shape file"):
        save(config, tmp_path, "../etc")
    with pytest.raises(ShapeError, match=r"capture\.path_pattern"):
        save(config, tmp_path, "anthropic")
    with pytest.raises(UsageError, match="jq"):
        save(config, tmp_path, "anthropic", ["map(select("])
    assert list_shapes(config, tmp_path) == [] and not (tmp_path / "shapes").exists()
