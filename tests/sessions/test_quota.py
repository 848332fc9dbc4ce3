"""Rate-limit headers -> quota snapshots and per-credential reports (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ccproxy.sessions.quota import crossed, parse_quota, quota_of_docs

NOW = 1_800_000_000.0

UNIFIED = [
    ("anthropic-ratelimit-unified-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-5h-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-5h-reset", "1800003600"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.82"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.3"),
    ("anthropic-ratelimit-unified-7d_opus-utilization", "0.05"),
    ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
    ("Content-Type", "application/json"),
]


def test_unified_windows_are_per_cent_with_their_reset_and_status() -> None:
    snap = parse_quota(UNIFIED, NOW)
    assert snap is not None and snap.kind == "anthropic-unified"
    assert (snap.status, snap.representative) == ("allowed_warning", "five_hour")
    five = snap.windows["5h"]
    assert (five.utilization, five.reset, five.status) == (82.0, 1800003600.0, "allowed_warning")
    assert snap.windows["7d"].utilization == 30.0 and snap.windows["7d_opus"].utilization == 5.0
    assert snap.highest() is five


def test_openai_counts_become_utilisation_and_durations_become_times() -> None:
    snap = parse_quota([
        ("x-ratelimit-limit-tokens", "10000"), ("x-ratelimit-remaining-tokens", "2500"),
        ("x-ratelimit-reset-tokens", "6m0s"), ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-remaining-requests", "499"), ("x-ratelimit-reset-requests", "120ms"),
    ], NOW)
    assert snap is not None and snap.kind == "openai"
    tokens = snap.windows["tokens"]
    assert (tokens.limit, tokens.remaining, tokens.utilization, tokens.reset) == (10000, 2500, 75.0, NOW + 360)
    assert snap.windows["requests"].reset == pytest.approx(NOW + 0.12)


def test_anthropic_api_key_limits_and_retry_after() -> None:
    snap = parse_quota([
        ("anthropic-ratelimit-tokens-limit", "1000"), ("anthropic-ratelimit-tokens-remaining", "100"),
        ("anthropic-ratelimit-tokens-reset", "2027-01-15T10:00:00Z"), ("retry-after", "30"),
    ], NOW)
    assert snap is not None and snap.kind == "anthropic" and snap.retry_after == 30.0
    assert snap.windows["tokens"].utilization == 90.0 and snap.windows["tokens"].reset == datetime(2027, 1, 15, 10, tzinfo=UTC).timestamp()


def test_no_rate_limit_headers_no_snapshot() -> None:
    assert parse_quota([("content-type", "text/plain")], NOW) is None


def _doc(fid: str, t: float, util: float, session: str, model: str, status: int = 200) -> dict[str, Any]:
    headers = [["anthropic-ratelimit-unified-5h-utilization", str(util)],
               ["anthropic-ratelimit-unified-5h-reset", "1800003600"]]
    return {"id": fid, "request": {"pretty_host": "api.anthropic.com", "timestamp_start": t},
            "response": {"status_code": status, "timestamp_end": t, "headers": headers},
            "ccproxy": {"provider": "anthropic", "session_id": session, "model": model,
                        "usage": {"input_tokens": 100, "output_tokens": 10}}}


def test_report_attributes_each_rise_to_the_session_and_model_that_saw_it() -> None:
    docs = [_doc("a", 1, 0.10, "s1", "opus"), _doc("b", 2, 0.15, "s1", "opus"),
            _doc("c", 3, 0.16, "s2", "haiku"), _doc("d", 4, 0.25, "s1", "opus", 429),
            {"id": "x", "request": {}, "response": {"headers": []}, "ccproxy": {}}]
    [cred] = quota_of_docs(docs)
    assert (cred["credential"], cred["flows"], cred["rejected"], cred["last_flow"]) == ("anthropic", 4, 1, "d")
    five = cred["windows"]["5h"]
    assert five["utilization"] == 25.0
    assert five["by_session"]["s1"] == {"points": 14.0, "tokens": 330, "flows": 3}
    assert five["by_session"]["s2"]["points"] == 1.0 and five["by_model"]["haiku"]["tokens"] == 110


def test_a_threshold_is_crossed_once() -> None:
    assert crossed(None, 85.0, [80, 90]) == 80
    assert crossed(79.0, 91.0, [80, 90]) == 90
    assert crossed(81.0, 85.0, [80, 90]) is None
    assert crossed(50.0, None, [80]) is None
