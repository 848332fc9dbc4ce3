"""A finished session's waste report: the most expensive turns, the same file or tool result read again
and again, retries, tool failures, errors and prompt-cache misses, each with the tokens it cost; and
thresholds (`--fail-over metric=N`) so CI can fail an agent run that wasted too much.

Tokens, not money: prices change and differ by plan. `weighted` is input-equivalent tokens with
Anthropic's list-price ratios (cache read 0.1, cache write 1.25, output 5), labelled as such.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ccproxy.errors import UsageError
from ccproxy.flows.library import FlowLibrary
from ccproxy.sessions.loops import Step, history
from ccproxy.wire.endpoints import main_endpoint

WEIGHTS = {"input": 1.0, "cache_read": 0.1, "cache_write": 1.25, "output": 5.0}
#: What `--fail-over` can gate on, and what each counts.
METRICS = {
    "tokens": "every token of the session (input, output, cache read and write)",
    "weighted": "input-equivalent tokens (cache read 0.1, cache write 1.25, output 5)",
    "turns": "requests",
    "retries": "turns that repeated the turn before (same history)",
    "errors": "turns answered with an error",
    "tool_failures": "tool results that were errors",
    "repeated_calls": "tool calls made again with the same arguments",
    "repeated_results": "tool results sent again with the same content",
    "repeated_tokens": "tokens of tool results read again (estimated)",
    "cache_misses": "turns whose prompt-cache read fell short",
    "cache_miss_tokens": "tokens written again because the cache read fell short",
}


def _turns(conversations: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for conv in conversations:
        for turn in conv["turns"]:
            yield conv, turn
            yield from _turns(turn.get("children") or [])


def _convs(conversations: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for conv in conversations:
        yield conv
        for turn in conv["turns"]:
            yield from _convs(turn.get("children") or [])


def weighted(usage: dict[str, Any]) -> float:
    return sum(float(usage.get(k) or 0) * w for k, w in WEIGHTS.items())


def repeats(steps: Sequence[Step]) -> dict[str, Any]:
    """Tool calls made again with the same arguments, and results sent again with the same content."""
    calls = Counter(s.text for s in steps if s.kind == "call")
    results = Counter(hashlib.sha256(s.text.encode()).hexdigest() for s in steps if s.kind == "result")
    sizes = {hashlib.sha256(s.text.encode()).hexdigest(): len(s.text) for s in steps if s.kind == "result"}
    again = [(text, n) for text, n in calls.most_common() if n > 1]
    return {
        "calls": [{"call": text[:160], "times": n} for text, n in again[:10]],
        "repeated_calls": sum(n - 1 for _, n in again),
        "repeated_results": sum(n - 1 for n in results.values() if n > 1),
        "repeated_tokens": sum((n - 1) * sizes[h] // 4 for h, n in results.items() if n > 1),
        "tool_failures": sum(1 for s in steps if s.kind == "result" and s.error),
    }


def report(session: dict[str, Any], cache: list[dict[str, Any]], last_bodies: dict[str, Any]) -> dict[str, Any]:
    """The report from a session of `flows tree --json`, its `flows cache --json` rows, and the request
    body of each conversation's longest turn (conversation id -> (format, body)), which holds its whole history."""
    turns = [t for _, t in _turns(session["conversations"])]
    costly = sorted(turns, key=lambda t: -weighted(t["usage"]))[:5]
    rep: dict[str, Any] = {"calls": [], "repeated_calls": 0, "repeated_results": 0, "repeated_tokens": 0, "tool_failures": 0}
    for conv_id, (fmt, body) in last_bodies.items():
        one = repeats(history(body, fmt))
        rep["calls"] += [dict(c, conversation=conv_id) for c in one.pop("calls")]
        for key, value in one.items():
            rep[key] += value
    misses = [r for conv in cache for r in conv["turns"] if r.get("status") in ("miss", "partial")
              and r.get("cause") not in (None, "cold_start")]
    metrics = {
        "tokens": sum(sum(int(t["usage"].get(k) or 0) for k in WEIGHTS) for t in turns),
        "weighted": round(sum(weighted(t["usage"]) for t in turns)),
        "turns": len(turns),
        "retries": sum(1 for t in turns if t["kind"] == "retry"),
        "errors": sum(1 for t in turns if t["error"] or (t["status"] or 0) >= 400),
        "tool_failures": rep["tool_failures"],
        "repeated_calls": rep["repeated_calls"],
        "repeated_results": rep["repeated_results"],
        "repeated_tokens": rep["repeated_tokens"],
        "cache_misses": len(misses),
        "cache_miss_tokens": sum(max(0, int(r["expected_read"]) - int(r["cache_read"])) for r in misses),
    }
    return {
        "session_id": session["session_id"],
        "metrics": metrics,
        "expensive_turns": [{"flow_id": t["flow_id"], "kind": t["kind"], "usage": t["usage"],
                             "weighted": round(weighted(t["usage"])), "tool_uses": t["tool_uses"]} for t in costly],
        "repeated_calls": rep["calls"][:10],
        "retries": [t["flow_id"] for t in turns if t["kind"] == "retry"],
        "errors": [{"flow_id": t["flow_id"], "status": t["status"], "error": t["error"]}
                   for t in turns if t["error"] or (t["status"] or 0) >= 400][:20],
        "cache_misses": [{"flow_id": r["flow_id"], "cause": r.get("cause"), "detail": r.get("detail"),
                          "lost": max(0, int(r["expected_read"]) - int(r["cache_read"]))} for r in misses][:20],
    }


def parse_thresholds(items: Sequence[str]) -> dict[str, float]:
    """`metric=N` pairs (`--fail-over`); an unknown metric or a bad number is a usage error naming the choices."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in METRICS:
            raise UsageError(f"--fail-over {item!r}: give metric=N with a metric of {', '.join(METRICS)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise UsageError(f"--fail-over {item!r}: {value!r} is not a number") from None
    return out


def over(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The thresholds the session went over, as sentences."""
    return [f"{name} {metrics[name]} > {limit:g}" for name, limit in thresholds.items() if metrics[name] > limit]


def session_report(library: FlowLibrary, session_prefix: str, jq: Sequence[str] = ()) -> dict[str, Any]:
    """The waste report of the one session whose id starts with `session_prefix`."""
    sessions = (str((d.get("ccproxy") or {}).get("session_id") or "") for d in library.docs(jq))
    ids = sorted({s for s in sessions if s and s.startswith(session_prefix)})
    if len(ids) != 1:
        known = "; `ccproxy flows tree` lists the sessions"
        raise UsageError(f"session {session_prefix!r} matches {len(ids)} sessions{known}" if ids
                         else f"no session {session_prefix!r} in the set{known}")
    chain = [*jq, f"map(select(.ccproxy.session_id == {json.dumps(ids[0])}))"]
    from ccproxy.sessions.library import SessionLibrary

    views = SessionLibrary(library)
    tree = views.tree(chain)
    session = next(s for s in tree if s["session_id"] == ids[0])
    # The turn with the longest history holds every call and result of its conversation (a retry of an
    # early turn may come last).
    last_ids = {conv["id"]: max(conv["turns"], key=lambda t: t["messages"])["flow_id"]
                for conv in _convs(session["conversations"])}
    bodies: dict[str, Any] = {}
    flows = {f.id: f for f in library.load(list(last_ids.values()))}
    for conv_id, flow_id in last_ids.items():
        flow = flows.get(flow_id)
        if flow is None:
            continue
        endpoint = main_endpoint(str((flow.doc.get("request") or {}).get("path") or ""))
        try:
            body = json.loads(flow.body("request") or b"")
        except ValueError:
            continue
        bodies[conv_id] = (endpoint.format if endpoint else "anthropic", body)
    return report(session, views.cache(chain), bodies)
