from __future__ import annotations

from decimal import Decimal

import pytest

from smallchat.money import format_usd, from_picodollars, to_picodollars, usd_text


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0.00000059", "$0.00000059"),
        ("0.000001", "$0.000001"),
        ("0.001646", "$0.001646"),
        ("0.0123456", "$0.01235"),
        ("0.25", "$0.25"),
        ("0.1", "$0.10"),
        ("0", "$0.00"),
        ("1234.5", "$1,234.50"),
    ],
)
def test_money_is_shown_for_humans(amount: str, shown: str) -> None:
    assert format_usd(Decimal(amount)) == shown


def test_unknown_cost_is_shown_as_not_available() -> None:
    assert format_usd(None) == "n/a"


def test_picodollars_round_trip_exactly() -> None:
    assert to_picodollars(Decimal("0.00000059")) == 590_000
    assert from_picodollars(590_000) == Decimal("0.00000059")
    assert usd_text(from_picodollars(590_000)) == "0.00000059"
    assert usd_text(from_picodollars(250_000_000_000)) == "0.25"
