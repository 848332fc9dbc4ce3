"""The rooms of docs/architecture.md ("which room may import which"), checked.

One table (`rooms.toml`) says what each room may import; `scripts/contracts.py` writes it into
pyproject.toml as import-linter contracts, which `uv run lint-imports` runs. These tests keep the
three in step with each other, with the docs and with the source tree, and forbid import cycles
between any two modules, type-only imports included."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ccproxy"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("contracts", ROOT / "scripts" / "contracts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_room_keeps_to_the_imports_the_architecture_allows() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
         "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_the_contracts_are_the_ones_the_table_generates() -> None:
    gen = generator()
    written = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert written == gen.contracts(gen.load_table(), gen.rooms()), (
        "pyproject.toml's contracts are not rooms.toml's; run `uv run python scripts/contracts.py`"
    )


def test_every_room_has_a_row_and_only_the_shared_leaves_sit_beside_them() -> None:
    gen = generator()
    table = gen.load_table()
    assert set(gen.rooms()) == set(table["may_import"]), "rooms.toml's rows are not the packages of src/ccproxy"
    leaves = {"ccproxy" if p.stem == "__init__" else f"ccproxy.{p.stem}" for p in PACKAGE.glob("*.py")}
    assert leaves == set(table["shared"]), "a top-level module every room may import must be listed in rooms.toml"
    for room, allowed in table["may_import"].items():
        for entry in allowed:
            if entry != "*":
                target = entry.split(".", 1)[0]
                assert target in table["may_import"] and target != room, f"{room}: {entry!r} is no other room"
                assert "." not in entry or entry in gen.modules_of(target), f"{room}: no module {entry!r}"


def test_a_new_room_is_forbidden_everywhere_until_a_row_allows_it(tmp_path: Path) -> None:
    gen = generator()
    fake = tmp_path / "ccproxy"
    for room in [*gen.rooms(), "newroom"]:
        (fake / room).mkdir(parents=True)
        for module in gen.modules_of(room) if room != "newroom" else []:
            (fake / room / f"{module.split('.', 1)[1]}.py").write_text("")
        (fake / room / "__init__.py").write_text("")
    table: dict[str, Any] = gen.load_table()
    table["may_import"]["newroom"] = []
    found = gen.contracts(table, gen.rooms(fake), fake)
    rooms_forbidding = {c["source_modules"][0] for c in found
                        if c["type"] == "forbidden" and "ccproxy.newroom" in c["forbidden_modules"]}
    everyone_but_cli = {f"ccproxy.{r}" for r in gen.rooms() if table["may_import"][r] != ["*"]}
    assert rooms_forbidding == everyone_but_cli


def _doc_rows() -> dict[str, set[str]]:
    """docs/architecture.md's Rooms table: room -> the rooms its "may import" column names."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Rooms", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)/` \|.*\| ([^|]*) \|$", line)
        if not m:
            continue
        column = m.group(2)
        while re.search(r"\([^()]*\)", column):
            column = re.sub(r"\([^()]*\)", "", column)
        names = {w.strip().strip("`").split(".", 1)[0].rstrip("/") for w in column.split(",") if w.strip()}
        rows[m.group(1)] = {"*"} if names == {"everything below"} else names - {"nothing of ours"}
    return rows


def test_the_docs_rooms_table_says_what_the_table_allows() -> None:
    table = generator().load_table()["may_import"]
    wanted = {room: {e.split(".", 1)[0] for e in allowed} for room, allowed in table.items()}
    assert _doc_rows() == wanted, "docs/architecture.md's Rooms table differs from rooms.toml"


def test_no_two_modules_import_each_other_even_for_types_only() -> None:
    graph = grimp.build_graph("ccproxy", exclude_type_checking_imports=False)
    loops = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith("ccproxy") or module.startswith(imported + "."):
                continue  # a package's __init__ re-exporting its own modules is no loop
            if graph.chain_exists(importer=imported, imported=module, as_packages=False):
                chain = graph.find_shortest_chain(importer=imported, imported=module)
                loops.append(" -> ".join([module, *(chain or [])]))
    assert not loops, "import cycles:\n" + "\n".join(loops[:20])
