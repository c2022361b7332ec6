"""Catalogue: databases made by earlier (and later) SmallChats, opened by this one at start-up."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from smallchat import errors
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.db import SCHEMA_HEAD, create_db_engine, upgrade_database
from smallchat.llm import make_client
from smallchat.repository import ChatStore
from tests.apptest_helpers import ROOT, configure_app, run_app, shown
from tests.fake_provider import FakeProvider, Reply
from tests.reliability.conftest import assert_totals_equal_the_rows, stored

FIXTURE = ROOT / "tests" / "fixtures" / "schema_0001.sql"
CACHING = "6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c1a01"
UNPRICED = "0b9e7d2c-1a3f-4e5d-8c7b-6a5f4e3d2c02"


def load_fixture(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(FIXTURE.read_text())
    connection.close()


@pytest.fixture
def upgraded(settings: Settings) -> ChatStore:
    """The first-schema fixture, opened the way the app opens any database at start-up."""
    load_fixture(Path(settings.database_url.removeprefix("sqlite:///")))
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    yield ChatStore(engine)
    engine.dispose()


def test_first_schema_database_is_upgraded_without_losing_a_row(upgraded: ChatStore) -> None:
    with upgraded.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
    assert stored(upgraded, CACHING) == [
        ("user", "What does prompt caching save?"),
        ("assistant", "It saves most of the input cost."),
        ("user", "And with $5?"),
        ("assistant", "Less, but"),
    ]
    assert stored(upgraded, UNPRICED) == [("user", "hi"), ("assistant", "hello"), ("user", "unanswered")]
    caching = upgraded.get_session(CACHING)
    # The fixture's totals, written by hand: $0.0006695 + $0.00003, 2,006 + 40 prompt tokens.
    assert caching.cost == Decimal("0.0006995")
    assert (caching.message_count, caching.prompt_tokens, caching.cached_tokens, caching.completion_tokens) == (
        4,
        2046,
        1920,
        310,
    )
    assert (caching.estimated_replies, caching.budget) == (1, None)
    unpriced = upgraded.get_session(UNPRICED)
    assert (unpriced.unpriced_replies, unpriced.cost) == (1, Decimal(0))
    replies = [m for m in upgraded.list_messages(CACHING) if m.role == "assistant"]
    assert [(r.cost, r.complete, r.usage_estimated) for r in replies] == [
        (Decimal("0.0006695"), True, False),
        (Decimal("0.00003"), False, True),
    ]
    assert replies[0].input_per_mtok == Decimal("0.25")
    for session_id in (CACHING, UNPRICED):
        assert_totals_equal_the_rows(upgraded, session_id)


def test_second_schema_columns_and_tables_exist_after_the_upgrade(upgraded: ChatStore) -> None:
    schema = inspect(upgraded.engine)
    message_columns = {column["name"] for column in schema.get_columns("messages")}
    assert {
        "content_tokens",
        "forecast_prompt_tokens",
        "forecast_completion_tokens",
        "forecast_cost_picodollars",
    } <= message_columns
    assert "budget_picodollars" in {column["name"] for column in schema.get_columns("chat_sessions")}
    assert {"budget_limits", "budget_events"} <= set(schema.get_table_names())
    # Foreign keys survive the table rebuild that SQLite's ALTER needs: deleting cascades.
    upgraded.delete_session(UNPRICED)
    with upgraded.engine.connect() as connection:
        left = connection.execute(text("SELECT count(*) FROM messages WHERE session_id = :id"), {"id": UNPRICED})
        assert left.scalar() == 0


def test_upgraded_chat_goes_on_with_old_rows_counted_by_estimate(
    upgraded: ChatStore, provider: FakeProvider, settings: Settings
) -> None:
    # Rows from before token counting was stored: ceil(characters / 4) + 3 framing each.
    assert upgraded.history_token_counts(UNPRICED) == [4, 5, 6]
    provider.script(Reply(chunks=["answered at last"], prompt_tokens=20, completion_tokens=4))
    send_message(upgraded, make_client(settings), settings, session_id=UNPRICED, text=None)  # the retry
    assert stored(upgraded, UNPRICED)[-1] == ("assistant", "answered at last")
    assert provider.chat_requests()[-1].body["messages"][-1] == {"role": "user", "content": "unanswered"}
    session = upgraded.get_session(UNPRICED)
    # house-model under the default tariff: 20 * 0.25 + 4 * 2.00 = 13 per 1M; the old reply had no price.
    assert (session.message_count, session.cost, session.unpriced_replies) == (4, Decimal("0.000013"), 1)
    assert_totals_equal_the_rows(upgraded, UNPRICED)


def test_upgrade_run_twice_changes_nothing(upgraded: ChatStore) -> None:
    before = stored(upgraded, CACHING)
    upgrade_database(upgraded.engine)  # the next start-up
    assert stored(upgraded, CACHING) == before


def test_database_from_a_newer_smallchat_is_refused_in_words(settings: Settings) -> None:
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(errors.StorageError) as raised:
        upgrade_database(engine)
    engine.dispose()
    assert str(raised.value).startswith("The database's schema is not one this version of SmallChat knows (")
    assert "'0099'" in str(raised.value)
    assert str(raised.value).endswith(
        "It was probably upgraded by a newer SmallChat: run that version, or point DATABASE_URL at another database."
    )


def test_database_from_a_newer_smallchat_stops_the_page_with_the_reason(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    configure_app(monkeypatch, settings)
    app = run_app()
    assert not app.exception
    assert shown(app.error[0].value).startswith(
        "The chat history database cannot be used. The database's schema is not one this version"
    )
