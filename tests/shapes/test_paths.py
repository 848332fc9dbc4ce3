from __future__ import annotations

from typing import Any

from ccproxy.shapes import paths


def doc() -> dict[str, Any]:
    return {
        "system": [{"text": "a", "cache_control": {"type": "ephemeral"}}, {"text": "b"},
                   {"text": "c", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "u"},
    }


def test_get_follows_keys_indices_negative_indices_and_wildcards() -> None:
    d = doc()
    assert paths.get(d, "metadata.user_id") == ["u"]
    assert paths.get(d, "system.-1.text") == ["c"]
    assert paths.get(d, "system.0.text") == ["a"]
    assert paths.get(d, "system.*.text") == ["a", "b", "c"]
    assert paths.get(d, "system.*.cache_control") == [{"type": "ephemeral"}] * 2
    assert paths.get(d, "system.7.text") == [] and paths.get(d, "nope.x") == [] and paths.get(d, "") == []


def test_delete_removes_every_hit_and_skips_missing_ones() -> None:
    d = doc()
    assert paths.delete(d, "system.*.cache_control") == 2
    assert all("cache_control" not in block for block in d["system"])
    assert paths.delete(d, "system.*.cache_control") == 0
    assert paths.delete(d, "system.*") == 3 and d["system"] == []


def test_assign_needs_the_parent_and_never_invents_structure() -> None:
    d = doc()
    assert paths.assign(d, "system.1.cache_control", {"type": "ephemeral"}) == 1
    assert d["system"][1]["cache_control"] == {"type": "ephemeral"}
    assert paths.assign(d, "tools.0.cache_control", {"type": "ephemeral"}) == 0
    assert "tools" not in d
    empty: dict[str, Any] = {"system": []}
    assert paths.assign(empty, "system.-1.cache_control", {}) == 0 and empty == {"system": []}


def test_pop_and_put_handle_nested_content_fields() -> None:
    d: dict[str, Any] = {"generationConfig": {"temperature": 0.2, "topK": 3}}
    assert paths.pop(d, "generationConfig.temperature") == (True, 0.2)
    assert paths.pop(d, "generationConfig.temperature") == (False, None)
    paths.put(d, "generationConfig.temperature", 0.9)
    paths.put(d, "a.b.c", 1)
    assert d == {"generationConfig": {"topK": 3, "temperature": 0.9}, "a": {"b": {"c": 1}}}
