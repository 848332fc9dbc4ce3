"""Subscription windows and rate limits, read off the headers providers send with every answer (429s too).

Anthropic subscription (OAuth) accounts get `anthropic-ratelimit-unified-*`: per window (`5h`, `7d`,
`7d_opus`, ...) a spent fraction (`-utilization`), the epoch it resets (`-reset`) and a status; API keys
get `anthropic-ratelimit-{requests,tokens,...}-{limit,remaining,reset}`; OpenAI sends
`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`. All of them become one `QuotaSnapshot`, so
`ccproxy status`, `flows quota`, the viewer and the spans say "per cent used, resets at" the same way.

`quota_report` folds the snapshots of many flows into one view per credential: the newest snapshot,
and how much of each window each session and model consumed. A window's utilisation only ever shows
the whole account, so a flow's share is the rise it saw since the previous flow of the same credential
(traffic that bypassed ccproxy lands in these rises too; the report says "observed").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

_UNIFIED = re.compile(r"^anthropic-ratelimit-unified-(?:(?P<window>[a-z0-9_]+)-)?(?P<field>utilization|reset|status)$")
_ANTHROPIC = re.compile(r"^anthropic-ratelimit-(?P<window>requests|tokens|input-tokens|output-tokens)-"
                        r"(?P<field>limit|remaining|reset)$")
_OPENAI = re.compile(r"^x-ratelimit-(?P<field>limit|remaining|reset)-(?P<window>requests|tokens)$")
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: How long each unified window lasts, where its name says it.
WINDOW_SECONDS = {"5h": 5 * 3600.0, "7d": 7 * 86400.0}


@dataclass
class Window:
    """One limit: how much of it is used (per cent), when it resets (epoch seconds), what the provider says."""

    name: str
    utilization: float | None = None
    reset: float | None = None
    status: str | None = None
    limit: int | None = None
    remaining: int | None = None


@dataclass
class QuotaSnapshot:
    """Every rate-limit fact one answer carried."""

    kind: str  # "anthropic-unified", "anthropic", "openai"
    windows: dict[str, Window] = field(default_factory=dict)
    status: str | None = None
    representative: str | None = None
    reset: float | None = None
    retry_after: float | None = None

    def window(self, name: str) -> Window:
        return self.windows.setdefault(name, Window(name))

    def highest(self) -> Window | None:
        """The fullest window (the one a warning is about)."""
        used = [w for w in self.windows.values() if w.utilization is not None]
        return max(used, key=lambda w: w.utilization or 0.0) if used else None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["windows"] = {k: {f: v for f, v in asdict(w).items() if v is not None} for k, w in self.windows.items()}
        return {k: v for k, v in doc.items() if v is not None}


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _epoch(value: str, now: float) -> float | None:
    """An epoch number, an RFC 3339 time, or an OpenAI duration (`6m0s`, `20ms`) from `now`."""
    number = _number(value)
    if number is not None:
        return number
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    parts = list(_DURATION.finditer(value))
    if parts and "".join(m.group(0) for m in parts) == value:
        return now + sum(float(m.group("n")) * _UNIT_SECONDS[m.group("unit")] for m in parts)
    return None


def parse_quota(headers: Iterable[Sequence[str]], now: float) -> QuotaSnapshot | None:
    """The rate-limit facts of one answer's headers; None when it carried none. `now`: when it arrived."""
    pairs = [(str(h[0]).lower(), str(h[1]).strip()) for h in headers if len(h) >= 2]
    names = {name for name, _ in pairs}
    if any(n.startswith("anthropic-ratelimit-unified-") for n in names):
        snap = QuotaSnapshot("anthropic-unified")
    elif any(n.startswith("anthropic-ratelimit-") for n in names):
        snap = QuotaSnapshot("anthropic")
    elif any(n.startswith("x-ratelimit-") for n in names):
        snap = QuotaSnapshot("openai")
    else:
        return None
    for name, value in pairs:
        _apply(snap, name, value, now)
    for w in snap.windows.values():
        if w.utilization is None and w.limit and w.remaining is not None:
            w.utilization = round(100.0 * (1 - w.remaining / w.limit), 2)
    return snap


def _apply(snap: QuotaSnapshot, name: str, value: str, now: float) -> None:
    if name == "retry-after":
        snap.retry_after = _number(value)
    elif name == "anthropic-ratelimit-unified-representative-claim":
        snap.representative = value
    elif m := _UNIFIED.match(name):
        window, what = m.group("window"), m.group("field")
        if window is None:
            if what == "status":
                snap.status = value
            elif what == "reset":
                snap.reset = _epoch(value, now)
            return
        w = snap.window(window)
        if what == "utilization":
            fraction = _number(value)
            w.utilization = round(fraction * 100.0, 2) if fraction is not None else None
        elif what == "reset":
            w.reset = _epoch(value, now)
        else:
            w.status = value
    elif (m := _ANTHROPIC.match(name) or _OPENAI.match(name)) is not None:
        w = snap.window(m.group("window"))
        what = m.group("field")
        if what == "reset":
            w.reset = _epoch(value, now)
        else:
            number = _number(value)
            setattr(w, what, int(number) if number is not None else None)


def credential_of(provider: str | None, host: str | None) -> str:
    """Which account a flow spent: its configured provider (one credential each), else the host it went to."""
    return provider or host or "-"


@dataclass
class QuotaRow:
    """One flow's part in a report: who spent, when, and the snapshot its answer carried."""

    flow_id: str
    time: float
    credential: str
    snapshot: QuotaSnapshot
    session: str | None = None
    model: str | None = None
    status_code: int | None = None
    tokens: int = 0


def quota_report(rows: Iterable[QuotaRow]) -> list[dict[str, Any]]:
    """Per credential: the newest snapshot and, per window, the rise each session and model was seen to cause."""
    by_cred: dict[str, list[QuotaRow]] = {}
    for row in sorted(rows, key=lambda r: r.time):
        by_cred.setdefault(row.credential, []).append(row)
    return [_credential_report(cred, flows) for cred, flows in sorted(by_cred.items())]


def _credential_report(credential: str, rows: list[QuotaRow]) -> dict[str, Any]:
    latest = rows[-1]
    windows: dict[str, Any] = {}
    for name, now in latest.snapshot.windows.items():
        windows[name] = {**{k: v for k, v in asdict(now).items() if v is not None},
                         **_consumption(rows, name, now.reset)}
    return {
        "credential": credential,
        "kind": latest.snapshot.kind,
        "status": latest.snapshot.status,
        "representative": latest.snapshot.representative,
        "last_flow": latest.flow_id,
        "last_seen": latest.time,
        "rejected": sum(1 for r in rows if r.status_code == 429),
        "flows": len(rows),
        "windows": windows,
    }


def _consumption(rows: list[QuotaRow], name: str, reset: float | None) -> dict[str, Any]:
    """Rises of one window's utilisation within its current period (same reset), by session and by model."""
    by_session: dict[str, dict[str, float]] = {}
    by_model: dict[str, dict[str, float]] = {}
    previous: float | None = None
    for row in rows:
        w = row.snapshot.windows.get(name)
        if w is None or w.utilization is None:
            continue
        if reset is not None and w.reset is not None and abs(w.reset - reset) > 60:
            previous = None  # an earlier period of the window
            continue
        rise = max(0.0, w.utilization - previous) if previous is not None else 0.0
        previous = w.utilization
        for key, table in ((row.session or "-", by_session), (row.model or "-", by_model)):
            entry = table.setdefault(key, {"points": 0.0, "tokens": 0, "flows": 0})
            entry["points"] = round(entry["points"] + rise, 4)
            entry["tokens"] += row.tokens
            entry["flows"] += 1
    return {"by_session": by_session, "by_model": by_model} if by_session else {}


def crossed(before: float | None, after: float | None, thresholds: Sequence[float]) -> float | None:
    """The highest threshold (per cent) `after` reached that `before` had not; None when none was crossed."""
    if after is None:
        return None
    hit = [t for t in thresholds if after >= t and (before is None or before < t)]
    return max(hit) if hit else None


def flow_headers(doc: dict[str, Any]) -> list[Sequence[str]]:
    """The provider's own response headers in a flow JSON (the upstream snapshot when ccproxy changed the answer)."""
    ccp = doc.get("ccproxy") or {}
    upstream = ccp.get("upstream_response") or {}
    headers = upstream.get("headers") or (doc.get("response") or {}).get("headers") or []
    return [h for h in headers if isinstance(h, list | tuple)]


def usage_tokens(usage: Any) -> int:
    """Every token a flow was billed for: input, output and both cache kinds."""
    if not isinstance(usage, dict):
        return 0
    keys = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return sum(int(usage.get(k) or 0) for k in keys)


def row_of(doc: dict[str, Any]) -> QuotaRow | None:
    """A flow JSON (`flows list --json` shape) as a report row; None when its answer carried no limits."""
    ccp, req, resp = doc.get("ccproxy") or {}, doc.get("request") or {}, doc.get("response") or {}
    when = float(resp.get("timestamp_end") or resp.get("timestamp_start") or req.get("timestamp_start") or 0.0)
    snap = parse_quota(flow_headers(doc), when)
    if snap is None:
        return None
    transform = ccp.get("transform") or {}
    return QuotaRow(
        flow_id=str(doc.get("id")),
        time=when,
        credential=credential_of(ccp.get("provider"), req.get("pretty_host") or req.get("host")),
        snapshot=snap,
        session=ccp.get("session_id"),
        model=ccp.get("model") or transform.get("model"),
        status_code=resp.get("status_code"),
        tokens=usage_tokens(ccp.get("usage")),
    )


def quota_of_docs(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`quota_report` over flow JSON documents (those without rate-limit headers are skipped)."""
    return quota_report(row for doc in docs if (row := row_of(doc)) is not None)
