from __future__ import annotations

from pathlib import Path

import pytest

from ccproxy.config.loader import load_config, template_text
from ccproxy.config.shaping import DEFAULT_CONTENT_FIELDS, DEFAULT_PATH_PATTERN, ShapingConfig
from ccproxy.errors import ConfigError


def test_defaults_cover_every_wire_format_and_ship_no_envelope(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.shaping == ShapingConfig() and config.shaping.shapes_dir == "shapes"
    assert config.shaping.providers == {}
    assert set(DEFAULT_CONTENT_FIELDS) == set(DEFAULT_PATH_PATTERN) == {
        "anthropic", "openai", "openai_responses", "gemini"}
    assert "shaping:" in template_text()


@pytest.mark.parametrize(("yaml_body", "where"), [
    ("merge_strategies: {system: prepend}", "ccproxy.shaping.providers.a.merge_strategies"),
    ("merge_strategies: {system: 'replace:2'}", "ccproxy.shaping.providers.a.merge_strategies"),
    ("capture: {path_pattern: '(['}", "ccproxy.shaping.providers.a.capture.path_pattern"),
    ("format: smoke-signals", "ccproxy.shaping.providers.a.format"),
    ("content_fields: [messages]\n        merge_strategies: {system: drop}", "ccproxy.shaping.providers.a"),
    ("shape_hook: []", "ccproxy.shaping.providers.a.shape_hook"),
])
def test_bad_shaping_config_points_at_the_key(tmp_path: Path, yaml_body: str, where: str) -> None:
    (tmp_path / "ccproxy.yaml").write_text(f"ccproxy:\n  shaping:\n    providers:\n      a:\n        {yaml_body}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert where in str(err.value)
