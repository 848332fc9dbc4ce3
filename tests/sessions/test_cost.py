"""Costs against the price library's own numbers: each format's raw usage, through ccproxy's normalisation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from ccproxy.config.pricing import ModelPrice
from ccproxy.sessions.cost import flow_cost, price_usage, total, usd_text
from ccproxy.store.answer import normalize_usage

#: (ccproxy format, price-table provider, api flavor, a response as the provider sends it)
RESPONSES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("anthropic", "anthropic", "default", {
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 1200, "output_tokens": 340, "cache_read_input_tokens": 51000,
                  "cache_creation_input_tokens": 2300}}),
    ("openai", "openai", "chat", {
        "model": "gpt-4o-2024-08-06",
        "usage": {"prompt_tokens": 52000, "completion_tokens": 410, "total_tokens": 52410,
                  "prompt_tokens_details": {"cached_tokens": 48000},
                  "completion_tokens_details": {"reasoning_tokens": 0}}}),
    ("openai_responses", "openai", "responses", {
        "model": "o4-mini",
        "usage": {"input_tokens": 30000, "output_tokens": 900, "total_tokens": 30900,
                  "input_tokens_details": {"cached_tokens": 20000},
                  "output_tokens_details": {"reasoning_tokens": 600}}}),
    ("gemini", "google", "default", {
        "modelVersion": "gemini-2.5-flash",
        "usageMetadata": {"promptTokenCount": 40000, "candidatesTokenCount": 300, "cachedContentTokenCount": 32000,
                          "thoughtsTokenCount": 250, "totalTokenCount": 40550}}),
]


@pytest.mark.parametrize(("fmt", "provider", "flavor", "response"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_each_format_costs_what_the_price_library_says(fmt: str, provider: str, flavor: str,
                                                       response: dict[str, Any]) -> None:
    expected = genai_prices.extract_usage(response, provider_id=provider, api_flavor=flavor).calc_price()
    raw = response.get("usage") or response.get("usageMetadata")
    model = str(response.get("model") or response.get("modelVersion"))
    cost = price_usage(fmt, model, normalize_usage(raw))
    assert cost is not None and cost.usd is not None, cost
    assert Decimal(str(cost.usd)) == expected.total_price.quantize(Decimal("1e-10"))
    assert cost.source == f"genai-prices {genai_prices.__version__}"
    assert expected.total_price > 0


def test_cache_tokens_change_the_price() -> None:
    """Anthropic's input excludes the cache: the same total tokens cost less when read from the cache."""
    fresh = price_usage("anthropic", "claude-sonnet-4-5", {"input_tokens": 10000, "output_tokens": 0})
    cached = price_usage("anthropic", "claude-sonnet-4-5",
                         {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 10000})
    assert fresh and cached and fresh.usd and cached.usd
    assert cached.usd == pytest.approx(fresh.usd / 10)


def test_an_unknown_model_is_unknown_not_a_guess() -> None:
    cost = price_usage("openai", "claude-sonnet-4-5", {"input_tokens": 10, "output_tokens": 1},
                       api_url="https://api.openai.com/v1/chat/completions")
    assert cost is not None and cost.usd is None, "OpenAI's own API does not serve Claude"
    assert price_usage("openai", "claude-sonnet-4-5", {"input_tokens": 10, "output_tokens": 1},
                       api_url="http://127.0.0.1:4000/v1/chat/completions").usd, "a local gateway serving Claude"  # type: ignore[union-attr]
    cost = price_usage("openai", "house-model-1", {"input_tokens": 10, "output_tokens": 1})
    assert cost is not None and cost.usd is None
    assert "prices:" in (cost.reason or "")
    assert usd_text(cost.usd) == "unknown"
    assert price_usage("openai", "gpt-4o", None) is None  # nothing to price


def test_config_prices_win_and_globs_match() -> None:
    prices = {"my-tune-*": ModelPrice(input_mtok=1, output_mtok=2, cache_read_mtok=0.1)}
    cost = price_usage("openai", "my-tune-7b", {"input_tokens": 2_000_000, "output_tokens": 1_000_000,
                                                "cache_read_input_tokens": 1_000_000}, prices=prices)
    assert cost is not None and cost.source == "config"
    assert cost.usd == pytest.approx(1 + 0.1 + 2)


def test_a_known_api_host_picks_its_provider() -> None:
    """Through OpenRouter (OpenAI format) a model is priced by OpenRouter's table, not OpenAI's."""
    usage = {"input_tokens": 1000, "output_tokens": 100}
    direct = price_usage("openai", "gpt-4o", usage, api_url="https://api.openai.com/v1/chat/completions")
    local = price_usage("openai", "gpt-4o", usage, api_url="http://127.0.0.1:9/v1/chat/completions")
    assert direct and local and direct.usd == local.usd
    router = price_usage("openai", "anthropic/claude-sonnet-4.5", usage,
                         api_url="https://openrouter.ai/api/v1/chat/completions")
    assert router is not None and router.usd is not None


def test_flow_cost_reads_the_flow_json_and_prefers_the_answering_model() -> None:
    doc = {"request": {"host": "127.0.0.1", "scheme": "http", "path": "/v1/messages", "timestamp_start": 1.7e9},
           "ccproxy": {"model": "claude-sonnet-4-5", "response_model": "claude-haiku-4-5",
                       "usage": {"input_tokens": 1000, "output_tokens": 1000}}}
    cost = flow_cost(doc)
    assert cost is not None and cost.model == "claude-haiku-4-5"
    sonnet = flow_cost({**doc, "ccproxy": {**doc["ccproxy"], "response_model": None}})
    assert sonnet and sonnet.usd and cost.usd and sonnet.usd > cost.usd
    summed = total([cost, sonnet, None, price_usage("openai", "nope", {"input_tokens": 1})])
    assert summed["priced"] == 2 and summed["unknown"] == 1 and summed["unpriced_models"] == ["nope"]


def test_prices_come_from_the_bundled_table_without_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the price table must never be fetched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    cost = price_usage("gemini", "gemini-2.5-pro", {"input_tokens": 1000, "output_tokens": 10},
                       api_url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent")
    assert cost is not None and cost.usd and cost.source == f"genai-prices {genai_prices.__version__}"
    from genai_prices import data_snapshot

    assert data_snapshot.get_snapshot().from_auto_update is False
