from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import text

from smallchat.errors import SessionNotFound
from smallchat.money import from_picodollars
from smallchat.pricing import Tariff
from smallchat.repository import DEFAULT_TITLE, ChatStore, NewReply, title_from_message
from smallchat.usage import TokenUsage

TARIFF = Tariff("made-up", Decimal("1.00"), Decimal("0.50"), Decimal("2.00"), "test")


def make_reply(store: ChatStore, session_id: str, *, cost: str | None = "0.001646", estimated: bool = False) -> None:
    store.add_reply(
        session_id,
        reply=NewReply(
            content="reply",
            model="m",
            usage=TokenUsage(prompt=2006, cached=1920, completion=300),
            usage_estimated=estimated,
            complete=True,
            cost=None if cost is None else Decimal(cost),
            tariff=None if cost is None else TARIFF,
        ),
    )


def test_first_message_names_the_session(store: ChatStore) -> None:
    session = store.create_session(model="m")
    assert session.title == DEFAULT_TITLE
    store.add_user_message(session.id, content="  What does\nprompt caching save?  ")
    assert store.get_session(session.id).title == "What does prompt caching save?"


def test_long_titles_are_shortened() -> None:
    title = title_from_message("word " * 40)
    assert len(title) == 60
    assert title.endswith("…")


def test_totals_follow_every_reply_and_unknown_costs_are_counted_apart(store: ChatStore) -> None:
    session = store.create_session(model="m")
    store.add_user_message(session.id, content="hi")
    make_reply(store, session.id)
    make_reply(store, session.id, cost=None)
    make_reply(store, session.id, estimated=True)
    totals = store.get_session(session.id)
    assert totals.message_count == 4
    assert totals.cost == Decimal("0.003292")  # 2 * 0.001646; the unknown one adds nothing
    assert totals.unpriced_replies == 1
    assert totals.estimated_replies == 1
    assert (totals.prompt_tokens, totals.cached_tokens, totals.completion_tokens) == (6018, 5760, 900)
    replies = [m for m in store.list_messages(session.id) if m.role == "assistant"]
    assert [r.cost for r in replies] == [Decimal("0.001646"), None, Decimal("0.001646")]
    assert replies[0].input_per_mtok == Decimal("1.00")
    assert replies[0].price_source == "test"


def test_reset_clears_messages_and_keeps_the_id(store: ChatStore) -> None:
    session = store.create_session(model="m")
    store.add_user_message(session.id, content="hi")
    make_reply(store, session.id)
    after = store.reset_session(session.id)
    assert after.id == session.id
    assert store.list_messages(session.id) == []
    assert (after.message_count, after.cost) == (0, Decimal(0))


def test_deleting_a_session_deletes_its_messages_through_the_foreign_key(store: ChatStore) -> None:
    session = store.create_session(model="m")
    store.add_user_message(session.id, content="hi")
    store.delete_session(session.id)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 0
    with pytest.raises(SessionNotFound):
        store.get_session(session.id)


def test_latest_messages_are_returned_in_order(store: ChatStore) -> None:
    session = store.create_session(model="m")
    for number in range(5):
        store.add_user_message(session.id, content=f"message {number}")
    assert [m.content for m in store.list_messages(session.id, limit=2)] == ["message 3", "message 4"]


def test_sessions_are_listed_newest_activity_first(store: ChatStore) -> None:
    older = store.create_session(model="m")
    newer = store.create_session(model="m")
    store.add_user_message(older.id, content="bump")
    assert [s.id for s in store.list_sessions()] == [older.id, newer.id]


def test_unicode_round_trips_exactly(store: ChatStore) -> None:
    session = store.create_session(model="m")
    content = "emoji 😀👩🏽‍💻, RTL עברית, zero\u200bwidth, $5 and <b>tags</b>"
    store.add_user_message(session.id, content=content)
    assert store.list_messages(session.id)[0].content == content


def test_database_sum_of_a_million_tiny_costs_is_exact(store: ChatStore, settings) -> None:
    session = store.create_session(model="m")
    path = settings.database_url.removeprefix("sqlite:///")
    one_cost = 250_000  # $0.00000025 in picodollars
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO messages (session_id, role, content, created_at, complete, cost_picodollars) "
            "VALUES (?, 'assistant', '', '2026-01-01 00:00:00', 1, ?)",
            ((session.id, one_cost) for _ in range(1_000_000)),
        )
        total = connection.execute("SELECT SUM(cost_picodollars) FROM messages").fetchone()[0]
    assert from_picodollars(total) == Decimal("0.25")


def test_listing_converts_rows_as_they_are_read(store: ChatStore) -> None:
    made = [store.create_session(model="m", title=f"chat {number}") for number in range(3)]
    listing = store.list_sessions(limit=None)
    assert len(listing) == 3
    assert [session.title for session in listing] == ["chat 2", "chat 1", "chat 0"]
    assert listing[-1] == made[0]  # same values, times included, as the session was created
    assert listing[0:2] == [made[2], made[1]]
    with pytest.raises(IndexError):
        listing[3]
