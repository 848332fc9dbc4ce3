"""What a flow cost in USD: (wire format, model that answered, usage) -> a price, or "unknown".

Prices come from `genai-prices` (pydantic's maintained table, cache reads/writes and tiered prices
included), using only the data bundled with the installed version: nothing is fetched at run time.
A user updates the table by upgrading the package (`uv lock --upgrade-package genai-prices`, or
`pip install -U genai-prices`), and prices a model the table lacks (or a negotiated rate) with
`prices:` in ccproxy.yaml, which wins over the table. A model neither knows costs "unknown": never
a guess from a similarly named one.

Usage arrives as ccproxy normalises it (`flows/answer.normalize_usage`), which keeps each
provider's semantics: Anthropic's `input_tokens` excludes cached tokens, OpenAI's and Gemini's
include them; Gemini's `candidatesTokenCount` excludes thinking tokens, OpenAI's
`completion_tokens` includes them. `price_usage` maps that back onto the table's own terms.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

#: ccproxy wire format -> the price table's provider for that format's first-party API.
FORMAT_PROVIDER: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai_responses": "openai",
    "gemini": "google",
}
UNKNOWN = "unknown"


class Price(Protocol):
    """A user's price for a model, USD per million tokens (`prices:` in ccproxy.yaml, `config.pricing`).

    A cache price of None means cache reads (writes) cost the input price."""

    @property
    def input_mtok(self) -> float: ...
    @property
    def output_mtok(self) -> float: ...
    @property
    def cache_read_mtok(self) -> float | None: ...
    @property
    def cache_write_mtok(self) -> float | None: ...


@dataclass(frozen=True)
class Cost:
    """A flow's price: `usd` is None when it is unknown, and `reason` says why."""

    usd: float | None
    model: str | None
    source: str | None = None  # "genai-prices 0.2.5", "config"
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        return usd_text(self.usd)


def usd_text(usd: float | None) -> str:
    """`$0.0123` (four significant decimals below a cent), or "unknown"."""
    if usd is None:
        return UNKNOWN
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def table_usage(fmt: str | None, usage: Mapping[str, int]) -> dict[str, int]:
    """ccproxy's usage in the price table's terms: `input_tokens` counts every input token, cached ones included."""
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    inputs = int(usage.get("input_tokens") or 0)
    outputs = int(usage.get("output_tokens") or 0)
    if fmt == "anthropic":
        inputs += cache_read + cache_write
    if fmt == "gemini":
        outputs += int(usage.get("reasoning_tokens") or 0)
    out = {"input_tokens": inputs, "output_tokens": outputs}
    if cache_read:
        out["cache_read_tokens"] = cache_read
    if cache_write:
        out["cache_write_tokens"] = cache_write
    return out


def price_usage(
    fmt: str | None,
    model: str | None,
    usage: Mapping[str, int] | None,
    *,
    api_url: str | None = None,
    prices: Mapping[str, Price] | None = None,
    when: datetime | None = None,
) -> Cost | None:
    """The cost of one answer; None when there is no usage to price (no answer, or the provider sent none).

    The provider is the one the price table knows for `api_url` (an API it lists), and the model must be
    in its table; for an API the table does not list (localhost, a proxy) the wire format's first-party
    provider is tried, then any provider whose table knows the model. Model names match by the table's own
    rules (dated variants such as claude-sonnet-4-5-20250929 included), never by similarity.
    `prices` (model name or glob -> Price) wins over the table. `when` picks time-dependent prices."""
    if not usage:
        return None
    if not model:
        return Cost(None, None, reason="the flow names no model")
    tokens = table_usage(fmt, usage)
    own = configured_price(model, prices or {})
    if own is not None:
        return Cost(_config_usd(own, tokens), model, "config")
    return _table_cost(fmt, model, tokens, api_url, when)


def configured_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The user's price for `model`: an exact key first, then the first glob that matches."""
    if model in prices:
        return prices[model]
    return next((p for pattern, p in prices.items() if fnmatch.fnmatchcase(model, pattern)), None)


def _config_usd(price: Price, tokens: Mapping[str, int]) -> float:
    read, write = tokens.get("cache_read_tokens", 0), tokens.get("cache_write_tokens", 0)
    plain = tokens["input_tokens"] - read - write
    total = (plain * price.input_mtok + tokens["output_tokens"] * price.output_mtok
             + read * (price.input_mtok if price.cache_read_mtok is None else price.cache_read_mtok)
             + write * (price.input_mtok if price.cache_write_mtok is None else price.cache_write_mtok))
    return round(total / 1_000_000, 10)


def _table_cost(fmt: str | None, model: str, tokens: dict[str, int], api_url: str | None,
                when: datetime | None) -> Cost:
    """The table's price: at the provider the URL names; else at the format's first-party provider, then at
    the provider whose model list has this name (an OpenAI-compatible proxy on localhost serving Claude)."""
    source = f"genai-prices {table_version()}"
    named = _provider_for(api_url)
    candidates = [named] if named else [FORMAT_PROVIDER.get(fmt or ""), None]
    for provider_id in candidates:
        usd = _calc(model, tokens, provider_id, when)
        if usd is not None:
            return Cost(usd, model, source)
    where = f" at {named}" if named else ""
    return Cost(None, model, source, f"no price for model {model!r}{where}; add it under `prices:` in ccproxy.yaml")


def _calc(model: str, tokens: dict[str, int], provider_id: str | None, when: datetime | None) -> float | None:
    import genai_prices

    try:
        calc = genai_prices.calc_price(genai_prices.Usage(**tokens), model, provider_id=provider_id,
                                       genai_request_timestamp=when)
    except LookupError:
        return None
    return round(float(calc.total_price), 10)


@cache
def table_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


@cache
def _provider_for(api_url: str | None) -> str | None:
    """The price table's provider whose API this URL is (None for localhost, proxies, unknown hosts)."""
    if not api_url:
        return None
    from genai_prices import data_snapshot

    try:
        return str(data_snapshot.get_snapshot().find_provider(None, None, api_url).id)
    except LookupError:
        return None


# -- flow JSON ---------------------------------------------------------------------------------


def flow_format(ccp: Mapping[str, Any], path: str) -> str | None:
    """The wire format the provider answered in: the router's destination format, else the path's."""
    transform = ccp.get("transform") or {}
    if transform.get("to_format"):
        return str(transform["to_format"])
    from ccproxy.wire.endpoints import main_endpoint

    endpoint = main_endpoint(path)
    return endpoint.format if endpoint else None


def answered_model(ccp: Mapping[str, Any]) -> str | None:
    """The model that really answered (the response's `model`), else the one ccproxy forwarded to, else asked for."""
    transform = ccp.get("transform") or {}
    return ccp.get("response_model") or transform.get("model") or ccp.get("model")


def flow_cost(doc: Mapping[str, Any], prices: Mapping[str, Price] | None = None) -> Cost | None:
    """The cost of one flow from its flow JSON (`flows list --json`'s elements); None without usage."""
    ccp = doc.get("ccproxy") or {}
    request = doc.get("request") or {}
    when = None
    if ts := request.get("timestamp_start"):
        from datetime import UTC

        when = datetime.fromtimestamp(float(ts), UTC)
    path = str(request.get("path") or "")
    api_url = f"{request.get('scheme') or 'https'}://{request.get('host')}{path}" if request.get("host") else None
    return price_usage(flow_format(ccp, path), answered_model(ccp), ccp.get("usage"), api_url=api_url,
                       prices=prices, when=when)


def total(costs: Iterable[Cost | None]) -> dict[str, Any]:
    """A sum that says what it could not price: `{usd, priced, unknown, unpriced_models}`."""
    usd, priced, unknown, models = 0.0, 0, 0, set[str]()
    for cost in costs:
        if cost is None:
            continue
        if cost.usd is None:
            unknown += 1
            models.add(cost.model or "(no model)")
        else:
            usd += cost.usd
            priced += 1
    return {"usd": round(usd, 10), "priced": priced, "unknown": unknown, "unpriced_models": sorted(models)}
