from __future__ import annotations

from typing import Any

from ccproxy.shapes import merge
from ccproxy.shapes.profile import resolve
from tests.shapes.conftest import capture_body, make_config


def profile(strategies: dict[str, str] | None = None, fields: list[str] | None = None) -> Any:
    entry: dict[str, Any] = {"merge_strategies": strategies or {}}
    if fields is not None:
        entry["content_fields"] = fields
    return resolve(make_config({"providers": {"anthropic": entry}}), "anthropic")


def test_envelope_body_drops_content_and_keeps_the_rest() -> None:
    env, removed = merge.envelope_body(capture_body(), profile())
    assert env == {"metadata": capture_body()["metadata"]}
    assert set(removed) == {"model", "max_tokens", "messages", "system", "tools", "stream"}


def test_envelope_body_keeps_the_first_n_shape_items_of_a_prepend_field() -> None:
    env, removed = merge.envelope_body(capture_body(), profile({"system": "prepend_shape:1"}))
    assert env["system"] == capture_body()["system"][:1]
    assert "system" not in removed and "messages" in removed
    env, _ = merge.envelope_body(capture_body(), profile({"system": "append_shape"}))
    assert env["system"] == capture_body()["system"]


def live() -> dict[str, Any]:
    return {
        "model": "claude-live",
        "messages": [{"role": "user", "content": "live prompt"}],
        "system": "Live system prompt.",
        "temperature": 0.3,
        "metadata": {"user_id": "the client's own"},
        "stream": False,
    }


def test_replace_takes_every_content_field_from_the_live_request() -> None:
    env = {"metadata": {"user_id": "shape"}, "system": [{"type": "text", "text": "shape"}]}
    body, sources = merge.inject(env, live(), profile())
    assert body["messages"] == live()["messages"] and body["system"] == "Live system prompt."
    assert body["model"] == "claude-live" and body["stream"] is False and body["temperature"] == 0.3
    assert body["metadata"] == {"user_id": "shape"}  # envelope, not content
    assert sources["messages"] == "incoming" and sources["metadata"] == "shape"
    assert sources["tools"] == "absent" and "tools" not in body


def test_prepend_and_append_wrap_strings_as_text_blocks_and_honour_n() -> None:
    preamble = [{"type": "text", "text": "p1"}, {"type": "text", "text": "p2"}, {"type": "text", "text": "p3"}]
    env = {"system": preamble}
    body, sources = merge.inject(env, live(), profile({"system": "prepend_shape:2"}))
    assert body["system"] == [*preamble[:2], {"type": "text", "text": "Live system prompt."}]
    assert sources["system"] == "shape+incoming"
    body, sources = merge.inject(env, live(), profile({"system": "append_shape:1"}))
    assert body["system"] == [{"type": "text", "text": "Live system prompt."}, preamble[0]]
    assert sources["system"] == "incoming+shape"


def test_prepend_of_two_strings_stays_a_string_and_a_missing_side_is_no_error() -> None:
    body, _ = merge.inject({"system": "Shape preamble."}, live(), profile({"system": "prepend_shape"}))
    assert body["system"] == "Shape preamble.\n\nLive system prompt."
    no_system = {k: v for k, v in live().items() if k != "system"}
    body, sources = merge.inject({"system": "Shape preamble."}, no_system, profile({"system": "prepend_shape"}))
    assert body["system"] == "Shape preamble." and sources["system"] == "shape"
    body, sources = merge.inject({}, live(), profile({"system": "append_shape"}))
    assert body["system"] == "Live system prompt." and sources["system"] == "incoming"
    body, _ = merge.inject({"system": None}, {"system": [{"type": "text", "text": "x"}]},
                           profile({"system": "prepend_shape"}))
    assert body["system"] == [{"type": "text", "text": "x"}]


def test_drop_removes_the_field_from_both_sides() -> None:
    body, sources = merge.inject({"temperature": 1.0}, live(), profile({"temperature": "drop"}))
    assert "temperature" not in body and sources["temperature"] == "dropped"


def test_live_values_are_copies_and_key_order_follows_the_capture() -> None:
    incoming = live()
    body, _ = merge.inject({"metadata": {"user_id": "s"}}, incoming, profile(),
                           key_order=["model", "messages", "system", "metadata", "stream"])
    body["messages"][0]["content"] = "changed"
    assert incoming["messages"][0]["content"] == "live prompt"
    assert list(body)[:5] == ["model", "messages", "system", "metadata", "stream"]
    assert list(body)[-1] == "temperature"  # the capture never sent it: after the captured keys
