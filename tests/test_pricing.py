"""Cost vectors worked out by hand; rates are USD per 1M tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smallchat.config import Settings
from smallchat.pricing import DEFAULT_TARIFF, Tariff, list_price_tariff, price_reply, tariff_for
from smallchat.usage import TokenUsage

MADE_UP = Tariff("made-up", Decimal("1.00"), Decimal("0.50"), Decimal("2.00"), "test")


def test_cached_prompt_tokens_are_charged_at_the_cached_rate() -> None:
    # (2006 - 1920) * 1.00 + 1920 * 0.50 + 300 * 2.00 = 86 + 960 + 600 = 1646 per 1M
    assert MADE_UP.cost(TokenUsage(prompt=2006, cached=1920, completion=300)) == Decimal("0.001646")


def test_reasoning_tokens_are_part_of_completion_and_not_added_again() -> None:
    # 2008 * 1.00 + 266 * 2.00 = 2540 per 1M; the 261 reasoning tokens are inside the 266.
    usage = TokenUsage(prompt=2008, completion=266, reasoning=261)
    assert usage.total == 2274
    assert MADE_UP.cost(usage) == Decimal("0.002540")


def test_tiny_costs_stay_exact() -> None:
    tariff = Tariff("tiny", Decimal("0.05"), Decimal("0.05"), Decimal("0.08"), "test")
    one = tariff.cost(TokenUsage(prompt=7, completion=3))
    # 7 * 0.05 + 3 * 0.08 = 0.59 per 1M
    assert one == Decimal("0.00000059")
    assert sum([one] * 10_000, Decimal(0)) == Decimal("0.0059")


def test_default_tariff_is_gpt5_mini() -> None:
    assert (DEFAULT_TARIFF.input_per_mtok, DEFAULT_TARIFF.cached_input_per_mtok, DEFAULT_TARIFF.output_per_mtok) == (
        Decimal("0.25"),
        Decimal("0.025"),
        Decimal("2.00"),
    )
    # 1M prompt tokens of which 400k cached, and 1M completion tokens:
    # 600k * 0.25 + 400k * 0.025 + 1M * 2.00 = 0.15 + 0.01 + 2.00
    usage = TokenUsage(prompt=1_000_000, cached=400_000, completion=1_000_000)
    assert DEFAULT_TARIFF.cost(usage) == Decimal("2.16")


def test_default_pricing_applies_to_any_model() -> None:
    priced = price_reply(Settings(), "llama-3.3-70b-versatile", TokenUsage(prompt=1000, completion=1000))
    # 1000 * 0.25 + 1000 * 2.00 = 2250 per 1M
    assert priced.cost == Decimal("0.00225")
    assert priced.tariff == DEFAULT_TARIFF


def test_dated_model_name_prices_as_its_own_model() -> None:
    tariff = list_price_tariff("gpt-4o-mini-2024-07-18")
    assert tariff is not None
    assert tariff.pricing_model == "gpt-4o-mini"
    assert (tariff.input_per_mtok, tariff.output_per_mtok) == (Decimal("0.15"), Decimal("0.6"))
    assert "genai-prices" in tariff.source


def test_groq_model_found_through_the_base_url() -> None:
    tariff = list_price_tariff("llama-3.3-70b-versatile", base_url="https://api.groq.com/openai/v1")
    assert tariff is not None
    assert (tariff.input_per_mtok, tariff.output_per_mtok) == (Decimal("0.59"), Decimal("0.79"))


@pytest.mark.parametrize("model", ["my-local-finetune", "llama3.2:1b"])
def test_model_without_a_known_price_costs_unknown_not_zero(model: str) -> None:
    settings = Settings(pricing="list", base_url="http://localhost:11434/v1")
    priced = price_reply(settings, model, TokenUsage(prompt=10, completion=5))
    assert priced.cost is None
    assert priced.tariff is None


def test_custom_rates_default_the_cached_rate_to_the_input_rate() -> None:
    settings = Settings(pricing="custom", custom_input_per_mtok=Decimal("3"), custom_output_per_mtok=Decimal("15"))
    tariff = tariff_for(settings, "any-model")
    assert tariff is not None
    # 100 prompt (50 cached at the input rate, as no cached rate is set) * 3 + 10 * 15 = 450 per 1M
    assert tariff.cost(TokenUsage(prompt=100, cached=50, completion=10)) == Decimal("0.00045")
    assert tariff.source == "custom rates"
