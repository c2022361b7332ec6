"""How the pages write numbers for people."""

from __future__ import annotations

import pytest

from smallchat.ui.text import escape_markdown, format_count


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


def test_web_addresses_link_to_themselves_and_read_as_typed() -> None:
    text = "Read https://example.com/a_b-c.html and www.example.org/x.y today."
    assert escape_markdown(text) == (
        r"Read [https://example\.com/a\_b\-c\.html](https://example.com/a_b-c.html) and "
        r"[www\.example\.org/x\.y](http://www.example.org/x.y) today\."
    )


def test_punctuation_after_an_address_and_a_shortened_title_stay_outside_the_link() -> None:
    assert (
        escape_markdown("at http://127.0.0.1:9/v1. Then")
        == r"at [http://127\.0\.0\.1:9/v1](http://127.0.0.1:9/v1)\. Then"
    )
    assert escape_markdown("see www.example.org/x.y…") == r"see [www\.example\.org/x\.y](http://www.example.org/x.y)…"


def test_the_per_day_chart_shows_a_single_day_as_one_labelled_day() -> None:
    from datetime import date
    from decimal import Decimal

    import pandas as pd

    from smallchat.ui.charts import build_daily_chart

    one_day = pd.DataFrame(
        {
            "day": [date(2026, 12, 3)],
            "model": ["m"],
            "cost": [Decimal("0.001")],
            "prompt_tokens": [10],
            "completion_tokens": [5],
        }
    )
    figure = build_daily_chart(one_day, measure="cost")
    start, end = figure.layout.xaxis.range
    # Half a day either side of the day: the axis never zooms into hours.
    assert (pd.Timestamp(end) - pd.Timestamp(start)) == pd.Timedelta(days=1)
    assert figure.layout.xaxis.tickformat == "%b %-d"
    assert figure.data[0].width == 86_400_000 * 0.8
