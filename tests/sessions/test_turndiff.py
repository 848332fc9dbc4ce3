from __future__ import annotations

from ccproxy.sessions.api import turn_diff
from ccproxy.sessions.tree import group
from ccproxy.sessions.turndiff import diff_text, structural_diff
from tests.sessions.agent_session import records
from tests.store.factory import bodies, facts


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
    recs = records()
    (session,) = group(facts(recs))
    main = session.conversations[0]
    last = turn_diff(main, 3, bodies(recs))
    assert last is not None and last["against"] == main.turns[2].id
    paths = {(e["op"], e["path"]) for e in last["entries"]}
    assert ("changed", "system[1].text") in paths
    assert ("added", "messages[5]") in paths and ("added", "messages[6]") in paths
    # the moved cache_control breakpoint shows as what it is
    assert ("removed", "messages[4].content[0].cache_control") in paths
