"""Helpers shared by the reliability catalogue: what every case checks after its fault."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from sqlalchemy import text

from smallchat import errors
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.repository import ChatStore
from tests.conftest import TEST_API_KEY
from tests.fake_provider import Failure, FakeProvider, Reply, error_body


@pytest.fixture
def session_id(store: ChatStore, settings: Settings) -> str:
    return store.create_session(model=settings.model_name).id


def stored(store: ChatStore, session_id: str) -> list[tuple[str, str]]:
    """The session's messages as (role, content), oldest first."""
    return [(message.role, message.content) for message in store.list_messages(session_id)]


def converse_with_the_key_echoed(
    store: ChatStore, client: openai.OpenAI, settings: Settings, provider: FakeProvider, session_id: str
) -> None:
    """A reply, a 401 and a mid-stream error, each echoing the API key back (as some providers do)."""
    provider.script(
        Reply(chunks=["Echoing your header: Bearer ", TEST_API_KEY]),
        Failure(401, error_body(f"Incorrect API key provided: {TEST_API_KEY}")),
        Reply(chunks=["so far"], error_after_chunks={"message": f"key {TEST_API_KEY} revoked"}),
    )
    send_message(store, client, settings, session_id=session_id, text="one")
    for _ in range(2):
        with pytest.raises(errors.ProviderError):
            send_message(store, client, settings, session_id=session_id, text="again")


def database_files(settings: Settings) -> list[Path]:
    """The SQLite database and the journal files beside it (WAL keeps recent writes there)."""
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    return [candidate for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if candidate.exists()]


def assert_key_absent_from_database(settings: Settings) -> None:
    files = database_files(settings)
    assert files, "the case wrote nothing: there is nothing to search"
    for path in files:
        assert TEST_API_KEY.encode() not in path.read_bytes(), path


def assert_totals_equal_the_rows(store: ChatStore, session_id: str) -> None:
    """The session's running totals are exactly the sums of its message rows."""
    totals = store.get_session(session_id)
    with store.engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0), "
                "coalesce(sum(completion_tokens), 0), coalesce(sum(cost_picodollars), 0) "
                "FROM messages WHERE session_id = :id"
            ),
            {"id": session_id},
        ).one()
    assert (totals.message_count, totals.prompt_tokens, totals.cached_tokens, totals.completion_tokens) == tuple(
        row[:4]
    )
    assert totals.cost * 10**12 == row[4]
