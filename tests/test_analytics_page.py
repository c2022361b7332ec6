"""The cost analytics page under AppTest, on a temp database seeded with hand-priced chats."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.apptest_helpers import ANALYTICS_PAGE, configure_app, record_downloads, run_app
from tests.factories import Clock, add_question, add_reply, seed_three_chats

NOV_3 = date(2026, 11, 3)
NOV_4 = date(2026, 11, 4)
# The sessions table's columns that hold numbers, as the page shows them.
NUMBERS = ["Title", "Messages", "Tokens in", "Cached", "Tokens out", "Cost (USD)", "No price", "Estimated"]


@pytest.fixture(autouse=True)
def _app_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    configure_app(monkeypatch, settings)


@pytest.fixture
def chats(store: ChatStore, clock: Clock) -> dict[str, str]:
    return seed_three_chats(store, clock)


def open_page(session_id: str | None = None):
    app = run_app(page=ANALYTICS_PAGE, session_id=session_id)
    assert not app.exception
    return app


def metrics(app) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def table(app, first_column: str):
    """The table whose first column is ``first_column`` (read-only tables carry no key)."""
    return next(frame.value for frame in app.dataframe if frame.value.columns[0] == first_column)


def table_rows(app) -> list[list]:
    return table(app, "Title")[NUMBERS].values.tolist()


def test_headline_figures_are_the_hand_worked_sums(chats) -> None:
    app = open_page()
    assert metrics(app) == {
        # 0.0006695 + 0.00095 + 0.00000059 + 0.0002 = 0.00182009, shown to four figures.
        "Total cost": "$0.00182",
        # 0.00182009 over the 4 replies with a price.
        "Average per reply": "$0.000455",
        # 1920 cached tokens x (0.25 - 0.025) per 1M.
        "Prompt caching saved": "$0.000432",
        "Estimated (in total)": "$0.0002",
        "Unknown price (not in total)": "1",
        "Messages": "10",
        "Sessions": "3",
        "Prompt tokens": "5,465",
        "Cached tokens": "1,920",
        "Completion tokens": "480",
    }
    total = next(metric for metric in app.metric if metric.label == "Total cost")
    assert "Exactly \\$0.00182009" in total.help


def test_sessions_table_rows_are_exact_down_to_a_fraction_of_a_cent(chats) -> None:
    app = open_page()
    assert table_rows(app) == [
        ["Trip to Lisbon", 4, 5006, 1920, 400, "0.0016195", 0, 0],
        ["Local model", 4, 450, 0, 70, "0.0002", 1, 1],
        ["Tiny question", 2, 9, 0, 10, "0.00000059", 0, 0],
    ]
    links = table(app, "Title")["Chat"].tolist()
    assert links == [f"./?session={chats[title]}" for title in ("Trip to Lisbon", "Local model", "Tiny question")]


def test_sessions_csv_is_the_table_byte_for_byte_in_the_same_order(chats, monkeypatch: pytest.MonkeyPatch) -> None:
    downloads = record_downloads(monkeypatch)
    app = open_page()
    app.selectbox(key="sessions_sort").set_value("Title").run()
    exported = downloads[app.download_button(key="download_sessions").proto.url]
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert header[:8] == [
        "title",
        "messages",
        "prompt_tokens",
        "cached_tokens",
        "completion_tokens",
        "cost_usd",
        "unpriced_replies",
        "estimated_replies",
    ]
    shown = [[str(value) for value in row] for row in table_rows(app)]
    assert [row[:8] for row in body] == shown
    assert [row[0] for row in body] == ["Local model", "Tiny question", "Trip to Lisbon"]  # sorted by title


def test_a_reply_without_a_price_is_shown_as_unknown_never_as_zero(chats) -> None:
    app = open_page(session_id=chats["Local model"])
    replies = table(app, "Time")
    assert replies["Cost (USD)"].tolist() == ["", "unknown price", "", "0.0002"]
    assert replies["Note"].tolist() == ["", "", "", "estimated"]
    assert any("1 without a known price (not in the total)" in caption.value for caption in app.caption)
    models_chart = next(chart for chart in app.get("plotly_chart") if "price unknown" in chart.proto.spec)
    assert "local-llama (1 unpriced)" in models_chart.proto.spec


def test_the_page_keeps_the_chat_session_in_its_links_back(chats) -> None:
    trip = chats["Trip to Lisbon"]
    app = open_page(session_id=trip)
    assert app.query_params["session"] == trip
    links = {link.proto.label: link.proto.query_string for link in app.get("page_link")}
    assert links["Back to the chat"] == f"session={trip}"
    assert links["Open this chat"] == f"session={trip}"


def test_an_empty_database_shows_a_way_to_the_chat(store: ChatStore) -> None:
    app = open_page()
    assert "Nothing to add up yet" in app.info[0].value
    assert [link.proto.label for link in app.get("page_link")] == ["Back to the chat", "Start a chat"]
    assert not app.metric


def test_a_date_range_changes_the_numbers(chats) -> None:
    app = open_page()
    app.date_input(key="filter_days").set_value((NOV_3, NOV_4)).run()
    assert not app.exception
    figures = metrics(app)
    # Nov 3 and 4 only: 0.00000059 + 0.0002 + 0.00095 = 0.00115059.
    assert (figures["Total cost"], figures["Messages"], figures["Sessions"]) == ("$0.001151", "8", "3")
    assert table_rows(app)[0] == ["Trip to Lisbon", 2, 3000, 0, 100, "0.00095", 0, 0]


def test_a_model_filter_counts_only_its_replies(chats) -> None:
    app = open_page()
    app.multiselect(key="filter_models").set_value(["cheap-model"]).run()
    figures = metrics(app)
    assert (figures["Total cost"], figures["Messages"], figures["Sessions"]) == ("$0.00000059", "1", "1")
    assert table_rows(app) == [["Tiny question", 1, 9, 0, 10, "0.00000059", 0, 0]]


def test_a_title_search_narrows_to_matching_chats(chats) -> None:
    app = open_page()
    app.text_input(key="filter_title").input("lisbon").run()
    assert metrics(app)["Total cost"] == "$0.00162"  # 0.0016195 to four figures
    assert [row[0] for row in table_rows(app)] == ["Trip to Lisbon"]
    app.text_input(key="filter_title").input("no such chat").run()
    assert "No messages match these filters" in app.info[0].value


def test_new_messages_show_at_once_and_both_pages_agree(store: ChatStore, clock: Clock, chats) -> None:
    app = open_page()
    assert metrics(app)["Total cost"] == "$0.00182"
    clock.set("2026-11-05 12:00")
    add_question(store, chats["Tiny question"], "Another")
    clock.set("2026-11-05 12:01")
    # 1000 x 0.25 + 500 x 2.00 = 2000 per 1M -> $0.002, so 0.00382009 in all. It is on a new
    # day, Nov 5: the date range, which covered every day, must grow to take it in.
    add_reply(store, chats["Tiny question"], prompt=1000, completion=500, cost="0.002")
    app.run()
    assert metrics(app)["Total cost"] == "$0.00382"
    assert table_rows(app)[0][:2] == ["Tiny question", 4]
    chat = run_app(session_id=chats["Tiny question"])
    # The chat page's sidebar: 0.00000059 + 0.002.
    assert chat.sidebar.metric[0].value == "$0.002001"


def test_the_chat_page_links_here_with_its_session(chats) -> None:
    chat = run_app(session_id=chats["Local model"])
    link = next(link for link in chat.get("page_link") if link.proto.label == "Where the money goes")
    assert link.proto.query_string == f"session={chats['Local model']}"


def test_a_chosen_date_range_stays_when_a_new_day_arrives(store: ChatStore, clock: Clock, chats) -> None:
    app = open_page()
    app.date_input(key="filter_days").set_value((NOV_3, NOV_3)).run()
    clock.set("2026-11-05 12:00")
    add_question(store, chats["Tiny question"], "Another")
    app.run()
    # Nov 3 alone: 0.00000059 + 0.0002 = 0.00020059, to four figures.
    assert (metrics(app)["Total cost"], metrics(app)["Messages"]) == ("$0.0002006", "6")


def test_selecting_a_session_drills_into_it_and_puts_it_in_the_url(chats) -> None:
    app = open_page()
    sessions = next(frame for frame in app.dataframe if frame.key and frame.key.startswith("sessions_"))
    app.session_state[sessions.key] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert app.query_params["session"] == chats["Tiny question"]  # the third row, costliest first
    assert table(app, "Time")["Cost (USD)"].tolist() == ["", "0.00000059"]
    assert table(app, "Time")["Cost so far (USD)"].tolist() == ["0.00", "0.00000059"]


def test_arriving_from_the_chat_through_the_page_list_keeps_its_session(chats) -> None:
    trip = chats["Trip to Lisbon"]
    app = run_app(session_id=trip)
    app.query_params.pop("session")  # Streamlit's own page list drops the URL's query
    app.switch_page(ANALYTICS_PAGE).run()
    assert not app.exception
    assert app.query_params["session"] == trip
    back = next(link for link in app.get("page_link") if link.proto.label == "Back to the chat")
    assert back.proto.query_string == f"session={trip}"


def test_what_if_prices_the_same_tokens_beside_the_recorded_cost(chats) -> None:
    app = open_page()
    app.multiselect(key="what_if_models").set_value(["gpt-4o-mini"]).run()
    what_if = table(app, "Model")
    # gpt-4o-mini at 0.15 / 0.075 / 0.60 per 1M on 3545 uncached + 1920 cached in, 480 out.
    assert what_if[["Model", "Cost (USD)", "vs recorded"]].values.tolist() == [
        ["Recorded", "0.00182009", ""],
        ["gpt-4o-mini", "0.00096375", "-0.00085634"],
    ]
    assert what_if["Rates per 1M"].tolist() == ["", "0.15 / 0.075 / 0.60"]
