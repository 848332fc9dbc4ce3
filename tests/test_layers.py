"""The rooms of docs/architecture.md ("which room may import which"), checked by import-linter.

The contracts live in pyproject.toml (`[tool.importlinter]`); `uv run lint-imports` shows them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ccproxy"


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def test_every_room_keeps_to_the_imports_the_architecture_allows() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
         "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_every_room_has_a_contract() -> None:
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    covered = {str(m).removeprefix("ccproxy.") for c in contracts() if c["type"] == "forbidden"
               for m in c["source_modules"]}  # type: ignore[attr-defined]
    assert rooms - {"cli"} <= covered, f"rooms without an import contract: {sorted(rooms - {'cli'} - covered)}"
    assert any(c["type"] == "acyclic_siblings" for c in contracts())
