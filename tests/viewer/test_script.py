"""The viewer's inline JavaScript is checked like the Python: syntax (node) and ESLint's recommended rules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def linter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lint_viewer_js", ROOT / "scripts" / "lint_viewer_js.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "index.html"
    path.write_text(f'<html><script type="application/json" id="ccproxy-data">null</script>\n<script>{code}</script>')
    return path


def needs_eslint(lint: ModuleType) -> None:
    if not lint.ESLINT.exists():
        pytest.skip("ESLint is not installed: run `npm ci` (scripts/setup.sh does; .ci/run fails without it)")


def test_the_viewer_script_is_clean() -> None:
    lint = linter()
    needs_eslint(lint)
    assert lint.check() == []


def test_a_syntax_error_is_found(tmp_path: Path) -> None:
    found = linter().check(page(tmp_path, "const x = ;"))
    assert any(p.startswith("node --check") for p in found)


def test_an_undefined_name_is_found_with_the_pages_line_number(tmp_path: Path) -> None:
    lint = linter()
    needs_eslint(lint)
    found = lint.check(page(tmp_path, "\nshowTree(window.data);"))
    assert any("eslint" in p and "no-undef" in p and "3:1" in p for p in found), found
