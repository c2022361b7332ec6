"""How the pages write numbers for people."""

from __future__ import annotations

import pytest

from smallchat.ui.text import format_count


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0"),
        (999_999, "999,999"),
        (1_000_000, "1M"),
        (1_234_567, "1.23M"),
        (999_999_999, "1B"),  # rounds up into the next unit, never "1000M"
        (73_466_707_029, "73.5B"),
        (5 * 10**12, "5T"),
    ],
)
def test_headline_counts_are_exact_below_a_million_then_three_figures(count: int, shown: str) -> None:
    assert format_count(count) == shown
