"""Tariffs and exact cost: the default GPT-5 mini rates, genai-prices list prices, or custom rates.

All rates are US dollars per 1M tokens, as Decimal. The cost of a reply is

    (prompt - cached) * input + cached * cached_input + completion * output

divided by one million. Reasoning tokens are already part of completion tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from smallchat.config import Settings
from smallchat.usage import TokenUsage

TOKENS_PER_RATE_UNIT = Decimal(1_000_000)

PRICE_SOURCE_DEFAULT = "default tariff"
PRICE_SOURCE_CUSTOM = "custom rates"
PRICE_SOURCE_LIST = "genai-prices"


@dataclass(frozen=True)
class Tariff:
    """Rates in USD per 1M tokens, with where they came from."""

    pricing_model: str
    input_per_mtok: Decimal
    cached_input_per_mtok: Decimal
    output_per_mtok: Decimal
    source: str

    def cost(self, usage: TokenUsage) -> Decimal:
        """Exact cost of ``usage`` at these rates."""
        cached = min(usage.cached, usage.prompt)
        uncached = usage.prompt - cached
        per_mtok = (
            uncached * self.input_per_mtok
            + cached * self.cached_input_per_mtok
            + usage.completion * self.output_per_mtok
        )
        return per_mtok / TOKENS_PER_RATE_UNIT


# The product's tariff since its first release: GPT-5 mini list prices.
DEFAULT_TARIFF = Tariff(
    pricing_model="gpt-5-mini",
    input_per_mtok=Decimal("0.25"),
    cached_input_per_mtok=Decimal("0.025"),
    output_per_mtok=Decimal("2.00"),
    source=PRICE_SOURCE_DEFAULT,
)


@dataclass(frozen=True)
class PricedUsage:
    """The cost of one reply; ``cost`` is None when no price is known for the model."""

    cost: Decimal | None
    tariff: Tariff | None


def price_reply(settings: Settings, model: str, usage: TokenUsage) -> PricedUsage:
    """Cost of a reply by ``model`` under the configured pricing mode."""
    tariff = tariff_for(settings, model, prompt_tokens=usage.prompt)
    return PricedUsage(cost=tariff.cost(usage) if tariff else None, tariff=tariff)


def tariff_for(settings: Settings, model: str, *, prompt_tokens: int = 0) -> Tariff | None:
    """The tariff for ``model`` under the settings' pricing mode; None if no price is known."""
    if settings.pricing == "custom":
        assert settings.custom_input_per_mtok is not None and settings.custom_output_per_mtok is not None
        cached = settings.custom_cached_input_per_mtok
        return Tariff(
            pricing_model=model,
            input_per_mtok=settings.custom_input_per_mtok,
            cached_input_per_mtok=settings.custom_input_per_mtok if cached is None else cached,
            output_per_mtok=settings.custom_output_per_mtok,
            source=PRICE_SOURCE_CUSTOM,
        )
    if settings.pricing == "list":
        return list_price_tariff(model, base_url=settings.base_url, prompt_tokens=prompt_tokens)
    return DEFAULT_TARIFF


def list_price_tariff(model: str, *, base_url: str | None = None, prompt_tokens: int = 0) -> Tariff | None:
    """The model's own list price from the bundled genai-prices data, or None if unknown.

    The provider is found from ``base_url`` when genai-prices knows it (Groq, OpenAI, ...);
    a local server's URL is unknown to it, so the model name alone is tried next.
    """
    found = _find_list_price_model(model.strip().lower(), base_url)
    if found is None:
        return None
    source, model_info = found
    model_price = model_info.get_prices(datetime.now(tz=UTC))
    input_rate = _rate(getattr(model_price, "input_mtok", None), prompt_tokens)
    output_rate = _rate(getattr(model_price, "output_mtok", None), prompt_tokens)
    if input_rate is None or output_rate is None:
        return None
    cached_rate = _rate(getattr(model_price, "cache_read_mtok", None), prompt_tokens)
    return Tariff(
        pricing_model=model_info.id,
        input_per_mtok=input_rate,
        cached_input_per_mtok=input_rate if cached_rate is None else cached_rate,
        output_per_mtok=output_rate,
        source=source,
    )


@lru_cache(maxsize=512)
def _find_list_price_model(model: str, base_url: str | None) -> tuple[str, Any] | None:
    """(provenance, genai-prices ModelInfo) for ``model``, looked up once per process."""
    # Imported here: loading the price data takes a noticeable fraction of a second, which
    # must not be paid at import time or on a page that never prices by list.
    import genai_prices
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    for provider_api_url in (base_url, None) if base_url else (None,):
        try:
            provider, model_info = snapshot.find_provider_model(model, None, None, provider_api_url)
        except LookupError:
            continue
        return f"{PRICE_SOURCE_LIST} {genai_prices.__version__}: {provider.id}/{model_info.id}", model_info
    # A local or proxy server serving a model that only one provider lists (Groq's
    # llama-3.3-70b-versatile, say): take the first provider that knows the name.
    for provider in snapshot.providers:
        model_info = provider.find_model(model, all_providers=snapshot.providers)
        if model_info is not None:
            return f"{PRICE_SOURCE_LIST} {genai_prices.__version__}: {provider.id}/{model_info.id}", model_info
    return None


def _rate(price: object, prompt_tokens: int) -> Decimal | None:
    """A flat rate, or the tier that applies to ``prompt_tokens`` for tiered prices."""
    if price is None:
        return None
    if isinstance(price, Decimal):
        return price
    tiers = getattr(price, "tiers", None)
    base = getattr(price, "base", None)
    if tiers is None or base is None:
        return None
    rate = base
    # Threshold pricing: crossing a tier applies that tier's rate to all tokens.
    for tier in sorted(tiers, key=lambda tier: tier.start):
        if prompt_tokens > tier.start:
            rate = tier.price
    return Decimal(rate)


def context_window_for(model: str, *, base_url: str | None = None) -> int | None:
    """The model's context window in tokens from the genai-prices data, if it is known."""
    found = _find_list_price_model(model.strip().lower(), base_url)
    return None if found is None else found[1].context_window


def known_list_price_models() -> list[str]:
    """Model ids that have a list price in the bundled genai-prices data (for what-if pickers)."""
    from genai_prices.data_snapshot import get_snapshot

    names = {model.id for provider in get_snapshot().providers for model in provider.models}
    return sorted(names)


@lru_cache(maxsize=1)
def list_priced_models() -> tuple[str, ...]:
    """Model ids that ``list_price_tariff`` prices by their name alone (for what-if pickers).

    Some genai-prices ids are only found together with their provider's URL; offering those
    would show "no price" for a model the list seems to know.
    """
    return tuple(model for model in known_list_price_models() if list_price_tariff(model) is not None)
