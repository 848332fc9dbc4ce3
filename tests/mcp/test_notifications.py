from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError

from ccproxy.mcp.notifications import IDLE_SECONDS, MAX_EVENTS, Notification, NotificationBuffer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def note(task: str, session: str, n: int, claude: str | None = None) -> Notification:
    return Notification(task_id=task, session_id=session, claude_session_id=claude, event={"n": n})


def test_drain_takes_only_the_matching_session_in_arrival_order() -> None:
    buf = NotificationBuffer()
    buf.add(note("t-b", "s1", 1))
    buf.add(note("t-other", "s2", 2))
    buf.add(note("t-a", "s1", 3))
    buf.add(note("t-b", "s1", 4))
    assert buf.has("s1") and buf.has("s2") and not buf.has("s3") and not buf.has(None)
    drained = buf.drain("s1")
    assert [(d.task_id, d.events) for d in drained] == [("t-b", [{"n": 1}, {"n": 4}]), ("t-a", [{"n": 3}])]
    assert buf.drain("s1") == [], "a drain empties what it took"
    assert buf.stats() == {"tasks": 1, "events": 1}
    assert [d.task_id for d in buf.drain("s2")] == ["t-other"]


def test_claude_session_id_also_matches() -> None:
    buf = NotificationBuffer()
    buf.add(note("t", "mcp-session", 1, claude="claude-uuid"))
    assert [d.task_id for d in buf.drain("claude-uuid")] == ["t"]
    assert not buf.has("mcp-session")


def test_a_task_keeps_its_newest_fifty_events_and_counts_the_dropped() -> None:
    buf = NotificationBuffer()
    for i in range(MAX_EVENTS + 7):
        count = buf.add(note("t", "s", i))
    assert count == MAX_EVENTS
    (drained,) = buf.drain("s")
    assert [e["n"] for e in drained.events] == list(range(7, MAX_EVENTS + 7))
    assert drained.dropped == 7


def test_idle_tasks_expire_after_ten_minutes_active_ones_stay() -> None:
    clock = Clock()
    buf = NotificationBuffer(clock=clock)
    buf.add(note("idle", "s", 1))
    buf.add(note("busy", "s", 1))
    clock.now += IDLE_SECONDS - 1
    buf.add(note("busy", "s", 2))
    clock.now += 2
    assert buf.stats() == {"tasks": 1, "events": 2}
    assert [d.task_id for d in buf.drain("s")] == ["busy"]


def test_concurrent_adds_lose_nothing() -> None:
    buf = NotificationBuffer(max_events=10_000)

    def add(k: int) -> None:
        for i in range(200):
            buf.add(note("t", "s", k * 1000 + i))

    threads = [threading.Thread(target=add, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    (drained,) = buf.drain("s")
    assert len(drained.events) == 1600 and len({e["n"] for e in drained.events}) == 1600


@pytest.mark.parametrize("doc", [
    {"session_id": "s", "event": {}},
    {"task_id": "", "session_id": "s", "event": {}},
    {"task_id": "t", "session_id": "s", "event": "not an object"},
    {"task_id": "t", "session_id": "s", "event": {}, "surprise": 1},
])
def test_malformed_notifications_are_rejected(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Notification.model_validate(doc)
