"""`SessionLibrary`: a flow set read as agent sessions, for the CLI (`flows tree|cache|lint|turndiff`)
and the MCP session tools alike. Which flows are in the set is `FlowLibrary`'s decision; the analysis
here never opens the store itself.
"""

from __future__ import annotations

from typing import Any

from ccproxy.errors import FlowError
from ccproxy.flows.library import FlowLibrary, Jq, request_bodies


class SessionLibrary:
    """The session views of one config dir's flow sets; as cheap to build as the `FlowLibrary` it reads."""

    def __init__(self, flows: FlowLibrary) -> None:
        self.flows = flows

    def tree(self, jq_filters: Jq = ()) -> list[dict[str, Any]]:
        """Sessions -> conversations -> turns, subagents nested under the turn that spawned them; with costs."""
        from ccproxy.sessions.spend import tree_with_costs

        facts = self.flows.facts(jq_filters)
        with self.flows.open() as store:
            docs = {d["id"]: d for d in store.docs([f.id for f in facts])} if store else {}
        return tree_with_costs(facts, docs, self.flows.config.prices)

    def cache(self, jq_filters: Jq = (), id_prefix: str | None = None) -> list[dict[str, Any]]:
        """Prompt-cache forensics per conversation (`sessions.api.cache_of`); `id_prefix` keeps its conversation."""
        from ccproxy.sessions.api import cache_of

        facts = self.flows.facts(jq_filters)
        if not facts:
            raise FlowError("no flows in the set; `ccproxy flows list` shows what is stored")
        flow_id = self.flows.find_id(id_prefix, jq_filters) if id_prefix else None
        with self.flows.open() as store:
            assert store is not None
            return cache_of(facts, request_bodies(store), flow_id)

    def lint(self, jq_filters: Jq = ()) -> list[dict[str, Any]]:
        from ccproxy.sessions.api import lint_of

        return lint_of(self.flows.facts(jq_filters))

    def turn_diff(self, id_prefix: str, jq_filters: Jq = ()) -> dict[str, Any]:
        """The structural diff of one flow's request against the previous turn of its conversation."""
        from ccproxy.sessions.api import turn_diff
        from ccproxy.sessions.tree import group

        flow_id = self.flows.find_id(id_prefix, jq_filters)
        for session in group(self.flows.facts(jq_filters)):
            for conv in session.conversations:
                for i, turn in enumerate(conv.turns):
                    if turn.id != flow_id:
                        continue
                    with self.flows.open() as store:
                        assert store is not None
                        found = turn_diff(conv, i, request_bodies(store))
                    if found is None:
                        raise FlowError(
                            f"flow {flow_id[:8]} is the first turn of its conversation; nothing to diff against"
                        )
                    return {"flow_id": flow_id, **found}
        raise FlowError(f"flow {flow_id[:8]} is not in the set")
