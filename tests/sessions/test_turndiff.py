from __future__ import annotations

from ccproxy.sessions.api import turn_diffs
from ccproxy.sessions.tree import group
from ccproxy.sessions.turndiff import diff_text, structural_diff
from ccproxy.store.stored_flow import StoredFlow
from tests.sessions.agent_session import records


def test_paths_of_added_removed_and_changed_values() -> None:
    before = {"model": "a", "system": "s", "messages": [{"role": "user", "content": "x"}], "gone": 1}
    after = {"model": "b", "system": "s", "messages": [{"role": "user", "content": "x"},
                                                       {"role": "assistant", "content": "y"}], "temperature": 0}
    entries = structural_diff(before, after)
    assert {(e["op"], e["path"]) for e in entries} == {
        ("changed", "model"), ("added", "messages[1]"), ("removed", "gone"), ("added", "temperature")}
    text = diff_text("turn 1 vs 0", entries)
    assert text.startswith("turn 1 vs 0: 2 added, 1 removed, 1 changed")
    assert "~ model: a  ->  b" in text


def test_turn_n_is_diffed_against_the_turn_it_continues() -> None:
    (session,) = group([StoredFlow(r.doc, r.parts) for r in records()])
    main = session.conversations[0]
    diffs = turn_diffs(main)
    last = diffs[main.turns[3].flow.id]
    assert last["against"] == main.turns[2].flow.id
    paths = {(e["op"], e["path"]) for e in last["entries"]}
    assert ("changed", "system[1].text") in paths
    assert ("added", "messages[5]") in paths and ("added", "messages[6]") in paths
    # the moved cache_control breakpoint shows as what it is
    assert ("removed", "messages[4].content[0].cache_control") in paths
