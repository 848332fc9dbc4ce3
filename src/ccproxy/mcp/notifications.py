"""The notification buffer: events from MCP servers that watch long-running work, held per task.

A watcher POSTs `{task_id, session_id, claude_session_id?, event}` to `/mcp/notify`; the
`inject_mcp_notifications` outbound hook drains the events of the flow's session into the next
request, so the model learns about them without polling. The buffer is bounded both ways: a task
keeps its newest `max_events` events, and a task nobody touched for `idle_seconds` is dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_EVENTS = 50
IDLE_SECONDS = 600.0


class Notification(BaseModel):
    """One POST to `/mcp/notify`; `event` is whatever the watcher reports (kept as is)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=200)
    session_id: str = Field(min_length=1, max_length=200)
    claude_session_id: str | None = Field(default=None, max_length=200)
    event: dict[str, Any]


@dataclass
class TaskEvents:
    """A task's buffered events, oldest first, and the sessions they belong to."""

    task_id: str
    sessions: frozenset[str]
    events: deque[dict[str, Any]]
    dropped: int = 0
    last_seen: float = 0.0
    first_seen: float = 0.0


@dataclass
class Drained:
    """What one drain took out for one task."""

    task_id: str
    events: list[dict[str, Any]]
    dropped: int = 0


@dataclass
class NotificationBuffer:
    """Thread-safe; the notify route and the outbound hook share one instance per daemon."""

    max_events: int = MAX_EVENTS
    idle_seconds: float = IDLE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _tasks: dict[str, TaskEvents] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, note: Notification) -> int:
        """Buffer one event; returns how many the task now holds (the oldest go beyond `max_events`)."""
        sessions = frozenset(s for s in (note.session_id, note.claude_session_id) if s)
        with self._lock:
            now = self.clock()
            self._expire(now)
            task = self._tasks.get(note.task_id)
            if task is None:
                task = TaskEvents(note.task_id, sessions, deque(maxlen=self.max_events), first_seen=now)
                self._tasks[note.task_id] = task
            task.sessions = sessions
            if len(task.events) == self.max_events:
                task.dropped += 1
            task.events.append(note.event)
            task.last_seen = now
            return len(task.events)

    def add_event(self, task_id: str, session_id: str, event: dict[str, Any]) -> int:
        """ccproxy's own news for an agent (a quota warning, a loop guard's decision), as if a watcher POSTed it."""
        return self.add(Notification(task_id=task_id, session_id=session_id, event=event))

    def has(self, session: str | None) -> bool:
        """Are there events for `session`? (Cheap; lets the hook skip parsing bodies.)"""
        if not session:
            return False
        with self._lock:
            self._expire(self.clock())
            return any(session in t.sessions and t.events for t in self._tasks.values())

    def drain(self, session: str | None) -> list[Drained]:
        """Take every event whose `session_id` or `claude_session_id` is `session`, tasks in arrival order."""
        if not session:
            return []
        with self._lock:
            self._expire(self.clock())
            hits = sorted(
                (t for t in self._tasks.values() if session in t.sessions and t.events),
                key=lambda t: t.first_seen,
            )
            for task in hits:
                del self._tasks[task.task_id]
        return [Drained(t.task_id, list(t.events), t.dropped) for t in hits]

    def stats(self) -> dict[str, int]:
        with self._lock:
            self._expire(self.clock())
            return {"tasks": len(self._tasks), "events": sum(len(t.events) for t in self._tasks.values())}

    def _expire(self, now: float) -> None:
        idle = [tid for tid, t in self._tasks.items() if now - t.last_seen > self.idle_seconds]
        for tid in idle:
            del self._tasks[tid]
