"""Load the recorded wire fixtures and compare translator output with the checked-in goldens.

Set CCPROXY_REGEN_GOLDEN=1 to rewrite the goldens after a deliberate change; review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wire"
EXPECTED = FIXTURES / "expected"
FORMATS = ("anthropic", "openai", "openai_responses", "gemini")
PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a != b]
CREATED = 1_700_000_000


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def check_golden(name: str, actual: str) -> None:
    """`actual` must equal the golden file `name`; regenerate deliberately, never silently."""
    path = EXPECTED / name
    if os.environ.get("CCPROXY_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"missing golden {path}; run with CCPROXY_REGEN_GOLDEN=1 and review it"
    assert actual == path.read_text(), f"{name} differs from its golden (CCPROXY_REGEN_GOLDEN=1 to update)"


def pretty(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
