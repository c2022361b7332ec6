"""What-if: the same tokens priced at other models' list prices."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from smallchat.analytics.report import PICODOLLAR
from smallchat.money import from_picodollars
from smallchat.pricing import list_price_tariff
from smallchat.usage import TokenUsage


def what_if_costs(models: pd.DataFrame, candidates: Sequence[str], *, base_url: str | None = None) -> pd.DataFrame:
    """The same tokens priced at other models' list prices (genai-prices), beside what was recorded.

    All replies' tokens are priced, those without a recorded price included. Tiered prices
    use their base tier: the totals no longer say how large each single request was.
    """
    usage = TokenUsage(
        prompt=int(models["prompt_tokens"].sum()),
        cached=int(models["cached_tokens"].sum()),
        completion=int(models["completion_tokens"].sum()),
    )
    recorded = from_picodollars(int(models["cost_picodollars"].sum()))
    rows: list[dict[str, Any]] = [
        {
            "model": "Recorded",
            "input_per_mtok": None,
            "cached_input_per_mtok": None,
            "output_per_mtok": None,
            "cost": recorded,
            "difference": Decimal(0),
            "source": "what each reply cost when it was sent",
        }
    ]
    for candidate in candidates:
        tariff = list_price_tariff(candidate, base_url=base_url)
        cost = None if tariff is None else tariff.cost(usage).quantize(PICODOLLAR)
        rows.append(
            {
                "model": candidate,
                "input_per_mtok": None if tariff is None else tariff.input_per_mtok,
                "cached_input_per_mtok": None if tariff is None else tariff.cached_input_per_mtok,
                "output_per_mtok": None if tariff is None else tariff.output_per_mtok,
                "cost": cost,
                "difference": None if cost is None else cost - recorded,
                "source": "no list price known" if tariff is None else tariff.source,
            }
        )
    return pd.DataFrame(rows).astype(object)
