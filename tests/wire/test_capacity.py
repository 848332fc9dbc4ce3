"""Capacity signals in every format and the fallback policy's decisions."""

from __future__ import annotations

import json

from ccproxy.wire.capacity import Decision, Policy, candidates, decide, header_delay, signal, split_candidate

GEMINI_429 = json.dumps({"error": {"code": 429, "message": "No capacity available", "status": "RESOURCE_EXHAUSTED",
                                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                "reason": "MODEL_CAPACITY_EXHAUSTED"},
                                               {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                "retryDelay": "2.5s"}]}}).encode()


def test_signals_in_each_format() -> None:
    assert signal(429, None, GEMINI_429) == signal(429, "99", GEMINI_429)
    sig = signal(429, None, GEMINI_429)
    assert sig is not None and (sig.reason, sig.delay) == ("MODEL_CAPACITY_EXHAUSTED", 2.5)
    gemini_503 = b'{"error": {"code": 503, "message": "The model is overloaded. Please retry in 300ms.", "status": "UNAVAILABLE"}}'
    sig = signal(503, None, gemini_503)
    assert sig is not None and sig.reason == "UNAVAILABLE" and sig.delay == 0.3
    sig = signal(529, "4", b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}')
    assert sig is not None and (sig.reason, sig.delay) == ("overloaded_error", 4.0)
    sig = signal(503, None, b'{"error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}}')
    assert sig is not None and sig.reason == "server_error" and sig.delay is None
    assert signal(200, None, b"{}") is None and signal(500, None, GEMINI_429) is None
    assert signal(503, None, b"<html>down</html>") is not None


def test_retry_after_as_a_date() -> None:
    assert header_delay("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert header_delay("soon") is None and header_delay(None) is None


def test_the_policy_walks_sticky_then_fallbacks_within_its_limits() -> None:
    policy = Policy(("b", "gemini/c"), sticky_retry_attempts=2, sticky_retry_max_delay_seconds=5,
                    terminal_delay_threshold_seconds=60, total_retry_budget_seconds=30)
    assert candidates(policy, "a") == [("a", True), ("a", True), ("b", False), ("gemini/c", False)]
    assert candidates(policy, "b") == [("b", True), ("b", True), ("gemini/c", False)]
    assert decide(policy, True, 2.0, 0.0) == Decision("retry", 2.0)
    assert decide(policy, True, 6.0, 0.0).step == "next"
    assert decide(policy, False, 6.0, 0.0) == Decision("retry", 0.0)
    assert decide(policy, False, 61.0, 0.0).step == "stop"
    assert decide(policy, True, 2.0, 29.0).step == "stop"
    assert split_candidate("gemini/c", ["gemini"], "anthropic") == ("gemini", "c")
    assert split_candidate("meta-llama/llama-3", ["gemini"], "openai") == ("openai", "meta-llama/llama-3")
