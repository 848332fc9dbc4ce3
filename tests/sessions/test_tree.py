from __future__ import annotations

from ccproxy.sessions.tree import build_tree, walk
from ccproxy.store.facts import Facts
from tests.sessions.agent_session import SESSION, SUBAGENT_PROMPT, records
from tests.store.factory import facts, make_record


def flows() -> list[Facts]:
    return facts(records())


def test_a_session_with_a_task_subagent_nests_it_under_the_spawning_turn() -> None:
    tree = build_tree(flows())
    assert [s["session_id"] for s in tree] == [SESSION]
    main, other = tree[0]["conversations"]
    assert [t["flow_id"][:2] for t in main["turns"]] == ["a0", "a1", "a2", "a3"]
    assert other["turns"][0]["flow_id"].startswith("c0")
    spawner = main["turns"][0]
    assert spawner["tool_uses"] == ["Task"]
    (sub,) = spawner["children"]
    assert sub["title"] == SUBAGENT_PROMPT
    assert sub["subagent"] == {"flow_id": spawner["flow_id"], "conversation": main["id"], "turn": 0,
                               "tool": "Task", "tool_use_id": "toolu_task1"}
    assert [t["flow_id"][:2] for t in sub["turns"]] == ["b0", "b1"]
    assert [c["id"] for c in walk(tree)] == [main["id"], sub["id"], other["id"]]


def test_turns_link_to_the_turn_they_extend_and_nodes_carry_totals() -> None:
    main = build_tree(flows())[0]["conversations"][0]
    assert [(t["kind"], t["extends"]) for t in main["turns"]] == [
        ("start", None), ("continue", 0), ("continue", 1), ("continue", 2)]
    assert main["turns"][1]["usage"] == {"input": 12, "output": 40, "cache_read": 1800, "cache_write": 150}
    assert main["totals"]["turns"] == 4 and main["totals"]["cache_read"] == 1800
    assert main["totals_with_subagents"]["turns"] == 6
    assert main["totals_with_subagents"]["cache_write"] == 1800 + 150 + 2000 + 600 + 90
    assert main["model"] == "claude-sonnet-4-5"
    assert main["turns"][0]["ttfb_ms"] is not None and main["turns"][0]["duration_ms"] is not None


def test_retries_and_forks_are_told_apart() -> None:
    u = {"role": "user", "content": "hello there"}
    a = {"role": "assistant", "content": "hi"}
    recs = [make_record(fid=f"f{i}", ts=float(i), body={"model": "m", "messages": msgs})
            for i, msgs in enumerate([[u], [u, a, {"role": "user", "content": "x"}], [u],
                                      [u, a, {"role": "user", "content": "y"}],
                                      [u, a, {"role": "user", "content": "x"}, a, {"role": "user", "content": "z"}]])]
    conv = build_tree(facts(recs))[0]["conversations"][0]
    assert [(t["kind"], t["extends"]) for t in conv["turns"]] == [
        ("start", None), ("continue", 0), ("retry", 0), ("continue", 2), ("fork", 1)]


def test_a_new_conversation_without_a_pending_agent_tool_stays_top_level() -> None:
    one = make_record(fid="x1", ts=1.0, body={"model": "m", "messages": [{"role": "user", "content": "first"}]})
    two = make_record(fid="x2", ts=2.0, body={"model": "m", "messages": [{"role": "user", "content": "second"}]})
    tree = build_tree(facts([one, two]))
    assert tree[0]["session_id"] == "(no session id)"
    assert len(tree[0]["conversations"]) == 2
    assert all(not t["children"] for c in tree[0]["conversations"] for t in c["turns"])
