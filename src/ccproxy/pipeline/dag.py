"""Order a stage's hooks so that every writer of a field runs before its readers."""

from __future__ import annotations

from ccproxy.errors import ConfigError
from ccproxy.pipeline.hook import HookSpec


def _edges(hooks: list[HookSpec]) -> dict[int, set[int]]:
    # A hook that reads and writes the same field (an in-place edit) does not wait on other writers
    # of it: those edits are ordered by config position instead, which keeps common chains acyclic.
    after: dict[int, set[int]] = {i: set() for i in range(len(hooks))}
    for i, a in enumerate(hooks):
        for j, b in enumerate(hooks):
            if i != j and a.writes & (b.reads - b.writes):
                after[j].add(i)
    return after


def order_hooks(hooks: list[HookSpec], stage: str = "") -> list[HookSpec]:
    """Topological order, ties broken by config order; a cycle is a ConfigError naming the hooks."""
    deps = _edges(hooks)
    done: list[int] = []
    remaining = list(range(len(hooks)))
    while remaining:
        ready = [i for i in remaining if deps[i] <= set(done)]
        if not ready:
            names = ", ".join(hooks[i].name for i in remaining)
            raise ConfigError(
                f"hooks.{stage or 'stage'}: hooks {names} form a cycle through their reads/writes; "
                "remove one of them or change its declarations"
            )
        done.append(ready[0])
        remaining.remove(ready[0])
    return [hooks[i] for i in done]


def dependencies(hooks: list[HookSpec]) -> list[tuple[str, str, str]]:
    """(writer, reader, field) triples, for `status --mermaid` and the pipeline table."""
    out = []
    for a in hooks:
        for b in hooks:
            if a is not b:
                for f in sorted(a.writes & (b.reads - b.writes)):
                    out.append((a.name, b.name, f))
    return out
