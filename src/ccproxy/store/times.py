"""Timestamps as flow JSON, HAR and the CLI write them; a leaf module, so `har.py` and
`conversation.py` (which `har.py` reaches through `stored` -> `record`) both import it without a cycle."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float | None) -> str:
    stamp = datetime.fromtimestamp(ts or 0.0, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
