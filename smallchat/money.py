"""Exact money: Decimal in code, whole picodollars (10^-12 USD) in the database.

Integers make the database's own SUM exact on SQLite and PostgreSQL alike; a price of
$0.025 per 1M tokens is 25,000 picodollars per token, so every published rate with up to
six decimals per 1M tokens gives a whole number of picodollars per token.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

PICODOLLARS_PER_DOLLAR = 10**12


def to_picodollars(amount: Decimal) -> int:
    """Whole picodollars of ``amount`` (banker's rounding below a picodollar)."""
    return int((amount * PICODOLLARS_PER_DOLLAR).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_picodollars(picodollars: int) -> Decimal:
    """Dollars as an exact Decimal."""
    return Decimal(picodollars).scaleb(-12)


def optional_from_picodollars(picodollars: int | None) -> Decimal | None:
    """Dollars, or None for an unknown amount (a NULL column)."""
    return None if picodollars is None else from_picodollars(picodollars)


def usd_text(amount: Decimal) -> str:
    """Exact plain decimal string for files and JSON: ``0.00000059``, ``0.25``, never ``5.9E-7``."""
    text = f"{amount:f}"
    if "." in text:
        whole, frac = text.split(".")
        text = f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
    else:
        text = f"{text}.00"
    return text


def format_usd(amount: Decimal | None, *, unknown: str = "n/a") -> str:
    """Money for humans: never "$0.0000" or "1e-06" for a non-zero amount.

    Cents for amounts of a dollar or more; below that, up to four significant figures
    (``$0.00000059``, ``$0.001646``, ``$0.25``).
    """
    if amount is None:
        return unknown
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"
    # Exponent of the first significant digit, e.g. 0.00000059 -> -7.
    leading = amount.adjusted()
    places = max(2, -leading + 3)
    return f"{sign}${usd_text(amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))}"
