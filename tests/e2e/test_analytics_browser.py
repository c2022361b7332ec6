"""The cost analytics page in a real browser: charts render, a filter changes them, the CSV matches the screen.

Written against the issue while the page is built on another branch: until ``pages/`` has an
analytics page this module is skipped. After the merge, check the names in "What the page
shows" below against the page (labels of the model filter and of the total) and run it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.harness import PLAYWRIGHT_MISSING

pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING)

from playwright.sync_api import Page, expect

from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.money import format_usd
from smallchat.repository import ChatStore
from tests.conftest import TEST_API_KEY
from tests.e2e.chat_page import REPLY_TIMEOUT_MS, sidebar, wait_until_idle
from tests.e2e.conftest import app_settings
from tests.e2e.harness import ROOT, RunningApp, running_app
from tests.fake_provider import FakeProvider, Reply

ANALYTICS_PAGES = sorted((ROOT / "pages").glob("*nalytics*.py"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not ANALYTICS_PAGES,
        reason="no cost analytics page yet (pages/*nalytics*.py): these scenarios run once it is merged",
    ),
]

# What the page shows (the issue: plotly charts, a date/model filter, a CSV download).
PLOTLY_SVG = ".js-plotly-plot svg.main-svg"
MODEL_FILTER_LABEL = re.compile(r"model", re.IGNORECASE)
NAV_LINK = re.compile(r"Where the money goes")

# Seeded chats: (model, prompt tokens, cached tokens, completion tokens). With the default
# GPT-5 mini tariff, per 1M tokens:
#   big-model:   1000 * 0.25 + 500 * 2.00                = 1250  -> $0.00125
#   small-model: 1000 * 0.25 + 1000 * 0.025 + 100 * 2.00 =  475  -> $0.000475
# All together: 1725 -> $0.001725.
SEEDED = [("big-model", 1000, None, 500), ("small-model", 2000, 1000, 100)]
TOTAL = Decimal("0.001725")
SMALL_MODEL_TOTAL = Decimal("0.000475")


@pytest.fixture(scope="module")
def analytics_server(browser, streaming_provider: FakeProvider, tmp_path_factory) -> Iterator[RunningApp]:
    """The app over a database holding one chat per model, made through the chat use case."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'chat.db'}"
    engine = create_db_engine(database_url)
    upgrade_database(engine)
    store = ChatStore(engine)
    for model, prompt, cached, completion in SEEDED:
        settings = Settings(
            api_key=TEST_API_KEY, base_url=streaming_provider.base_url, database_url=database_url, model_name=model
        )
        streaming_provider.script(
            Reply(
                chunks=["Seeded reply."],
                model=model,  # the reply is filed under the model the provider names
                prompt_tokens=prompt,
                cached_tokens=cached,
                completion_tokens=completion,
            )
        )
        session = store.create_session(model=model)
        send_message(store, make_client(settings), settings, session_id=session.id, text=f"A question for {model}")
    engine.dispose()
    streaming_provider.reset()
    with running_app(settings={**app_settings(streaming_provider), "DATABASE_URL": database_url}) as app:
        yield app


def open_analytics(page: Page, app: RunningApp) -> None:
    page.goto(app.url)
    sidebar(page).get_by_role("link", name=NAV_LINK).click()
    wait_until_idle(page)
    expect(page.locator(PLOTLY_SVG).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)


def shown_amounts(page: Page) -> list[str]:
    return [text.strip() for text in page.get_by_test_id("stMetricValue").all_inner_texts()]


def test_the_charts_render_with_the_total_cost(page: Page, analytics_server: RunningApp) -> None:
    open_analytics(page, analytics_server)
    assert page.locator(PLOTLY_SVG).count() >= 1
    # A chart that rendered has drawn its data (a trace: bars, lines, slices), not just axes.
    expect(page.locator(".js-plotly-plot g.trace").first).to_be_attached()
    assert format_usd(TOTAL) in shown_amounts(page)


def test_filtering_by_model_and_the_csv_download_match_the_screen(
    page: Page, analytics_server: RunningApp, tmp_path: Path
) -> None:
    open_analytics(page, analytics_server)
    assert format_usd(TOTAL) in shown_amounts(page)
    assert downloaded_total(page, tmp_path / "all.csv") == TOTAL

    choose_only(page, "small-model")
    expect(page.get_by_test_id("stMetricValue").filter(has_text=format_usd(SMALL_MODEL_TOTAL)).first).to_be_visible()
    expect(page.locator(PLOTLY_SVG).first).to_be_visible()
    assert downloaded_total(page, tmp_path / "small.csv") == SMALL_MODEL_TOTAL


def choose_only(page: Page, model: str) -> None:
    """Narrow the model filter (a multiselect or a selectbox) to ``model``."""
    widget = page.get_by_test_id("stMultiSelect").filter(has_text=MODEL_FILTER_LABEL)
    if widget.count():
        # Clear every chosen model, then pick the one wanted.
        clear = widget.get_by_role("button", name=re.compile("clear", re.IGNORECASE))
        if clear.count():
            clear.first.click()
    else:
        widget = page.get_by_test_id("stSelectbox").filter(has_text=MODEL_FILTER_LABEL)
    widget.locator("input").first.click()
    page.get_by_role("option", name=model).click()
    page.keyboard.press("Escape")
    wait_until_idle(page)


def downloaded_total(page: Page, path: Path) -> Decimal:
    """Download the page's CSV; the sum of its cost column, as exact as the file writes it."""
    # A rerun sends the page top to bottom: the button may still hold the previous run's file.
    wait_until_idle(page)
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").get_by_role("button").first.click()
    download.value.save_as(path)
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert rows, "the CSV is empty"
    cost_columns = [name for name in rows[0] if "cost" in name.lower()]
    assert cost_columns, f"no cost column in {list(rows[0])}"
    return sum((Decimal(row[cost_columns[0]].lstrip("$") or "0") for row in rows), Decimal(0))
