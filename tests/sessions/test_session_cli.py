"""`ccproxy flows tree|cache|lint|turndiff|export` over a seeded store, run in-process."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.cli.main import main
from ccproxy.store.record import FlowRecord
from tests.sessions.agent_session import SESSION, SUBAGENT_PROMPT, records

Stored = Callable[..., list[FlowRecord]]


def run(capsys: pytest.CaptureFixture[str], config_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_dir), "flows", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tree_prints_sessions_with_the_subagent_nested(tmp_path: Path, stored: Stored,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stored(*records())
    code, out, _ = run(capsys, tmp_path, "tree")
    assert code == 0
    lines = out.splitlines()
    assert SESSION in lines[0]
    spawner = next(i for i, line in enumerate(lines) if "a0000000" in line)
    sub = next(i for i, line in enumerate(lines) if "subagent via Task" in line)
    assert sub == spawner + 1 and SUBAGENT_PROMPT in lines[sub]
    assert lines[sub].index("subagent") > lines[spawner].index("#0")  # indented under the turn
    code, out, _ = run(capsys, tmp_path, "tree", "--json", "--jq", 'map(select(.id | startswith("c0")))')
    (session,) = json.loads(out)
    assert [c["title"] for c in session["conversations"]] == ["Say hi"]


def test_cache_lint_and_turndiff(tmp_path: Path, stored: Stored, capsys: pytest.CaptureFixture[str]) -> None:
    stored(*records())
    code, out, _ = run(capsys, tmp_path, "cache", "a3")
    assert code == 0
    assert "ttl_expired" in out and "prefix_drift: prefix changed at system[1].text at offset 21" in out
    code, out, _ = run(capsys, tmp_path, "lint")
    assert code == 1
    assert "c0000000 INVALID upstream valid (anthropic, 7 events), client stream invalid at event 1" in out
    assert "client error at event 1: [role]" in out
    code, _, _ = run(capsys, tmp_path, "lint", "--jq", 'map(select(.id | startswith("b0")))')
    assert code == 0
    code, out, _ = run(capsys, tmp_path, "turndiff", "a3")
    assert code == 0 and "~ system[1].text" in out and "+ messages[6]" in out
    code, _, err = run(capsys, tmp_path, "turndiff", "a0")
    assert code == 1 and "first turn of its conversation" in err


def test_export_writes_a_private_redacted_page(tmp_path: Path, stored: Stored,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stored(*records())
    target = tmp_path / "session.html"
    code, out, _ = run(capsys, tmp_path, "export", "--html", str(target))
    assert code == 0 and "7 flow(s), redacted" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    html = target.read_text()
    assert SUBAGENT_PROMPT in html and "sk-real-secret-key-123" not in html
    code, _, _ = run(capsys, tmp_path, "export", "--html", str(target), "--unredacted")
    assert "sk-real-secret-key-123" in target.read_text()
