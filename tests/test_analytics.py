"""The analytics aggregates against sums worked out by hand (see tests.factories.seed_three_chats)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from smallchat.analytics import (
    UsageFilter,
    data_version,
    messages_csv,
    session_messages,
    session_messages_csv,
    sessions_csv,
    usage_report,
    usage_rollup_query,
    what_if_costs,
)
from smallchat.repository import ChatStore
from tests.factories import Clock, add_question, add_reply, seed_three_chats

NOV_3 = date(2026, 11, 3)
NOV_4 = date(2026, 11, 4)


@pytest.fixture
def chats(store: ChatStore, clock: Clock) -> dict[str, str]:
    return seed_three_chats(store, clock)


def session_rows(report) -> list[tuple]:
    columns = ["title", "messages", "prompt_tokens", "cached_tokens", "completion_tokens", "cost"]
    return [
        tuple(row)
        for row in report.sessions[[*columns, "unpriced_replies", "estimated_replies"]].itertuples(index=False)
    ]


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_headline_totals_are_the_exact_sums_with_unknown_prices_apart(store: ChatStore, chats) -> None:
    totals = usage_report(store.engine).totals
    # 0.0006695 + 0.00095 + 0.00000059 + 0.0002; the local-llama reply has no price and adds nothing.
    assert totals.cost == Decimal("0.00182009")
    assert totals.estimated_cost == Decimal("0.0002")
    assert (totals.replies, totals.unpriced_replies, totals.estimated_replies) == (5, 1, 1)
    assert (totals.messages, totals.sessions) == (10, 3)
    assert (totals.prompt_tokens, totals.cached_tokens, totals.completion_tokens) == (5465, 1920, 480)
    # Four priced replies: 0.00182009 / 4.
    assert totals.average_cost_per_reply == Decimal("0.0004550225")
    # 1920 cached tokens at 0.25 instead of 0.025 per 1M: 1920 x 0.225 / 1M.
    assert totals.caching_saved == Decimal("0.000432")


def test_sessions_table_costliest_first_keeps_a_sub_microdollar_cost(store: ChatStore, chats) -> None:
    report = usage_report(store.engine)
    assert session_rows(report) == [
        ("Trip to Lisbon", 4, 5006, 1920, 400, Decimal("0.0016195"), 0, 0),
        ("Local model", 4, 450, 0, 70, Decimal("0.0002"), 1, 1),
        ("Tiny question", 2, 9, 0, 10, Decimal("0.00000059"), 0, 0),
    ]
    trip = report.sessions.iloc[0]
    assert trip["started"].isoformat() == "2026-11-02T09:00:00+00:00"
    assert trip["last_active"].isoformat() == "2026-11-04T08:01:00+00:00"


def test_cost_per_day_and_model_counts_unpriced_replies_without_a_cost(store: ChatStore, chats) -> None:
    daily = usage_report(store.engine).daily
    rows = [
        (row.day.date(), row.model, row.replies, row.cost, row.unpriced_replies)
        for row in daily.sort_values(["day", "model"]).itertuples()
    ]
    assert rows == [
        (date(2026, 11, 2), "gpt-5-mini", 1, Decimal("0.0006695"), 0),
        (NOV_3, "cheap-model", 1, Decimal("0.00000059"), 0),
        (NOV_3, "gpt-5-mini", 1, Decimal("0.0002"), 0),
        (NOV_3, "local-llama", 1, Decimal(0), 1),
        (NOV_4, "gpt-5-mini", 1, Decimal("0.00095"), 0),
    ]


def test_cost_per_model_costliest_first(store: ChatStore, chats) -> None:
    models = usage_report(store.engine).models
    assert [
        (row.model, row.replies, row.prompt_tokens, row.cost, row.unpriced_replies) for row in models.itertuples()
    ] == [
        ("gpt-5-mini", 3, 5406, Decimal("0.0018195"), 0),
        ("cheap-model", 1, 9, Decimal("0.00000059"), 0),
        ("local-llama", 1, 50, Decimal(0), 1),
    ]


def test_a_date_range_counts_only_its_days_even_within_a_session(store: ChatStore, chats) -> None:
    report = usage_report(store.engine, UsageFilter(first_day=NOV_3, last_day=NOV_4))
    # Nov 3 and 4: 0.00000059 + 0.0002 + 0.00095; Trip to Lisbon's Nov 2 exchange is left out.
    assert report.totals.cost == Decimal("0.00115059")
    assert (report.totals.messages, report.totals.sessions) == (8, 3)
    assert session_rows(report)[0] == ("Trip to Lisbon", 2, 3000, 0, 100, Decimal("0.00095"), 0, 0)

    one_day = usage_report(store.engine, UsageFilter(first_day=NOV_3, last_day=NOV_3))
    assert one_day.totals.cost == Decimal("0.00020059")
    assert [row[0] for row in session_rows(one_day)] == ["Local model", "Tiny question"]


def test_a_model_filter_counts_that_models_replies_only(store: ChatStore, chats) -> None:
    report = usage_report(store.engine, UsageFilter(models=("gpt-5-mini",)))
    assert report.totals.cost == Decimal("0.0018195")
    assert (report.totals.messages, report.totals.replies, report.totals.unpriced_replies) == (3, 3, 0)
    assert session_rows(report) == [
        ("Trip to Lisbon", 2, 5006, 1920, 400, Decimal("0.0016195"), 0, 0),
        ("Local model", 1, 400, 0, 50, Decimal("0.0002"), 0, 1),
    ]


def test_title_search_ignores_case_and_takes_wildcards_literally(store: ChatStore, chats) -> None:
    lisbon = usage_report(store.engine, UsageFilter(title_contains="LISBON"))
    assert lisbon.totals.cost == Decimal("0.0016195")
    assert [row[0] for row in session_rows(lisbon)] == ["Trip to Lisbon"]
    nothing = usage_report(store.engine, UsageFilter(title_contains="%"))
    assert (nothing.totals.messages, len(nothing.sessions), nothing.first_day) == (0, 0, None)


def test_running_totals_and_message_sums_give_the_same_report(store: ChatStore, chats) -> None:
    # No filter reads the sessions' running totals; a date range covering every day adds up
    # the messages instead. Both must agree to the last picodollar.
    from_totals = usage_report(store.engine)
    from_messages = usage_report(store.engine, UsageFilter(first_day=date(2026, 1, 1), last_day=date(2026, 12, 31)))
    assert from_totals.totals == from_messages.totals
    assert from_totals.sessions.equals(from_messages.sessions)
    assert from_totals.daily.equals(from_messages.daily)
    assert (from_totals.first_day, from_totals.last_day) == (date(2026, 11, 2), NOV_4)


def test_an_empty_database_has_an_empty_report(store: ChatStore) -> None:
    assert data_version(store.engine).empty
    report = usage_report(store.engine)
    assert report.totals.cost == Decimal(0)
    assert report.totals.average_cost_per_reply is None
    assert (len(report.sessions), len(report.daily), len(report.models)) == (0, 0, 0)


def test_the_data_version_moves_with_every_change_the_page_shows(store: ChatStore, clock: Clock, chats) -> None:
    seen = {data_version(store.engine)}
    clock.set("2026-11-05 10:00")
    add_question(store, chats["Tiny question"], "One more")
    seen.add(data_version(store.engine))
    clock.set("2026-11-05 10:01")
    store.rename_session(chats["Tiny question"], title="Renamed")
    seen.add(data_version(store.engine))
    store.delete_session(chats["Local model"])
    seen.add(data_version(store.engine))
    clock.set("2026-11-05 10:02")
    store.reset_session(chats["Trip to Lisbon"])
    seen.add(data_version(store.engine))
    assert len(seen) == 5


def test_drill_down_lists_replies_in_order_with_the_cost_so_far(store: ChatStore, chats) -> None:
    messages = session_messages(store.engine, chats["Local model"])
    assert list(messages["role"]) == ["user", "assistant", "user", "assistant"]
    assert list(messages["cost"]) == [None, None, None, Decimal("0.0002")]
    assert list(messages["cost_status"]) == ["", "unknown price", "", "estimated"]
    assert list(messages["cumulative_cost"]) == [Decimal(0), Decimal(0), Decimal(0), Decimal("0.0002")]
    assert list(messages["prompt_tokens"].astype(object).where(messages["prompt_tokens"].notna(), None)) == [
        None,
        50,
        None,
        400,
    ]


def test_sessions_csv_holds_the_exact_table(store: ChatStore, chats) -> None:
    rows = read_csv(sessions_csv(usage_report(store.engine).sessions))
    assert [(row["title"], row["messages"], row["cost_usd"], row["unpriced_replies"]) for row in rows] == [
        ("Trip to Lisbon", "4", "0.0016195", "0"),
        ("Local model", "4", "0.0002", "1"),
        ("Tiny question", "2", "0.00000059", "0"),
    ]
    assert rows[0]["started"] == "2026-11-02T09:00:00+00:00"
    assert rows[0]["session_id"] == chats["Trip to Lisbon"]


def test_messages_csv_marks_unknown_prices_and_matches_the_drill_down(store: ChatStore, chats) -> None:
    exported = messages_csv(store.engine, UsageFilter(title_contains="local model"))
    rows = read_csv(exported)
    assert [(row["role"], row["model"], row["cost_usd"], row["cost_status"]) for row in rows] == [
        ("user", "", "", ""),
        ("assistant", "local-llama", "", "unknown price"),
        ("user", "", "", ""),
        ("assistant", "gpt-5-mini", "0.0002", "estimated"),
    ]
    assert exported == session_messages_csv(session_messages(store.engine, chats["Local model"]))


def test_messages_csv_follows_the_filter(store: ChatStore, chats) -> None:
    rows = read_csv(messages_csv(store.engine, UsageFilter(first_day=NOV_3, last_day=NOV_3, models=("cheap-model",))))
    assert [(row["title"], row["prompt_tokens"], row["cost_usd"]) for row in rows] == [
        ("Tiny question", "9", "0.00000059")
    ]


def test_what_if_prices_all_the_tokens_at_list_prices(store: ChatStore, chats) -> None:
    what_if = what_if_costs(usage_report(store.engine).models, ["gpt-4o-mini", "no-such-model-anywhere"])
    recorded, cheaper, unknown = what_if.to_dict("records")
    assert (recorded["model"], recorded["cost"]) == ("Recorded", Decimal("0.00182009"))
    # gpt-4o-mini list price 0.15 / 0.075 / 0.60 per 1M, on all 5465 in (1920 cached) and 480 out:
    # 3545 x 0.15 + 1920 x 0.075 + 480 x 0.60 = 531.75 + 144 + 288 = 963.75 -> $0.00096375.
    assert (cheaper["input_per_mtok"], cheaper["cached_input_per_mtok"], cheaper["output_per_mtok"]) == (
        Decimal("0.15"),
        Decimal("0.075"),
        Decimal("0.6"),
    )
    assert cheaper["cost"] == Decimal("0.00096375")
    assert cheaper["difference"] == Decimal("-0.00085634")
    assert (unknown["cost"], unknown["source"]) == (None, "no list price known")


@pytest.mark.parametrize(
    "usage_filter",
    [UsageFilter(), UsageFilter(first_day=NOV_3, last_day=NOV_4)],
    ids=["everything", "date range"],
)
@pytest.mark.parametrize("per_session", [False, True], ids=["per day", "per session"])
def test_the_aggregate_reads_only_the_covering_index_in_order(
    store: ChatStore, chats, usage_filter: UsageFilter, per_session: bool
) -> None:
    query = usage_rollup_query(usage_filter, per_session=per_session)
    sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as connection:
        plan = " / ".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "COVERING INDEX ix_messages_usage" in plan
    assert "TEMP B-TREE" not in plan  # grouped while reading, never sorted


def test_reply_factory_costs_match_the_stored_totals(store: ChatStore, clock: Clock) -> None:
    # Guards the factory itself: what it stores is what the session's running total says.
    session_id = store.create_session(model="gpt-5-mini").id
    add_reply(store, session_id, model="cheap-model", prompt=9, completion=10, cost="0.00000059")
    assert store.get_session(session_id).cost == Decimal("0.00000059")
