"""Cost in `flows list|show|tree|cost` over a seeded Claude-Code-like session, run in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ccproxy.cli.main import main
from ccproxy.sessions.cost import flow_cost, usd_text
from ccproxy.store.record import FlowRecord
from tests.sessions.agent_session import records

Stored = Callable[..., list[FlowRecord]]


def run(capsys: pytest.CaptureFixture[str], config_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_dir), "flows", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_view_shows_the_same_costs(tmp_path: Path, stored: Stored, capsys: pytest.CaptureFixture[str]) -> None:
    recs = stored(*records())
    costs = {r.id: flow_cost(r.doc) for r in recs}
    priced = [c.usd for c in costs.values() if c and c.usd]
    assert priced, "the seeded session has usage on claude-sonnet-4-5, which the table prices"
    code, out, _ = run(capsys, tmp_path, "cost", "--json")
    report = json.loads(out)
    assert code == 0 and report["by"] == "model"
    assert report["total"]["usd"] == pytest.approx(sum(priced))
    assert report["total"]["unknown"] == 0 and report["prices"]["table"].startswith("genai-prices ")
    code, out, _ = run(capsys, tmp_path, "cost", "--by", "session")
    assert code == 0 and usd_text(sum(priced)) in out
    newest = recs[-1]
    code, out, _ = run(capsys, tmp_path, "list")
    assert code == 0 and " cost " in out.splitlines()[1] and usd_text(costs[newest.id].usd if costs[newest.id] else None) in out
    code, out, _ = run(capsys, tmp_path, "show", "--json", newest.id[:8])
    assert json.loads(out)["cost"]["usd"] == (costs[newest.id].usd if costs[newest.id] else None)
    code, out, _ = run(capsys, tmp_path, "tree", "--json")
    (session,) = [s for s in json.loads(out) if s["cost"]["priced"]][:1]
    turn_sum = 0.0

    def visit(conv: dict[str, object]) -> None:
        nonlocal turn_sum
        for turn in conv["turns"]:  # type: ignore[attr-defined]
            turn_sum += (turn["cost"] or {}).get("usd") or 0
            for child in turn["children"]:
                visit(child)

    for conv in session["conversations"]:
        visit(conv)
    assert session["cost"]["usd"] == pytest.approx(turn_sum)
    assert any(c["cost_with_subagents"]["usd"] > c["cost"]["usd"] for c in session["conversations"])


def test_unknown_models_are_counted_not_guessed(tmp_path: Path, stored: Stored,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    recs = records()
    for r in recs:
        r.doc["ccproxy"]["model"] = "house-model-1"
        r.doc["ccproxy"]["response_model"] = "house-model-1"
    stored(*recs)
    code, out, _ = run(capsys, tmp_path, "cost")
    assert code == 0 and "unknown" in out and "house-model-1" in out and "$" not in out
    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  prices:\n    house-model-*: {input_mtok: 1, output_mtok: 2}\n")
    code, out, _ = run(capsys, tmp_path, "cost", "--json")
    report = json.loads(out)
    assert report["total"]["unknown"] == 0 and report["total"]["usd"] > 0
