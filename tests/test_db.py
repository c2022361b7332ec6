"""The database at start-up: two processes (the chat page and the API) may open it at once."""

from __future__ import annotations

import threading
import time
from importlib.util import find_spec

import pytest
from sqlalchemy import text

from smallchat.db import create_db_engine, upgrade_database, writer
from smallchat.errors import StorageError
from smallchat.repository import ChatStore


def test_upgrade_waits_for_another_writer_instead_of_failing_as_locked(database_url: str) -> None:
    other, ours = create_db_engine(database_url), create_db_engine(database_url)
    writing = threading.Event()

    def another_process_writes() -> None:
        with writer(other).begin() as connection:
            connection.execute(text("CREATE TABLE scratch (id INTEGER)"))
            writing.set()
            time.sleep(0.5)  # our upgrade starts meanwhile and must wait for this commit

    thread = threading.Thread(target=another_process_writes)
    thread.start()
    writing.wait(timeout=5)
    # A deferred transaction would read the schema, then find it changed when it came to write,
    # and fail at once with "database is locked"; a writer's transaction waits its turn.
    upgrade_database(ours)
    thread.join()
    assert ChatStore(ours).count_sessions() == 0
    other.dispose()
    ours.dispose()


@pytest.mark.parametrize(
    ("database_url", "words"),
    [
        pytest.param(
            "nonsense://somewhere/db",
            "DATABASE_URL names a kind of database SmallChat does not know: nonsense. "
            "Use sqlite:///path/to/chat.db or postgresql+psycopg://user:password@host/db.",
            id="unknown-kind",
        ),
        pytest.param(
            # The driver is not among the project's requirements: a user has to add it.
            "postgresql+psycopg://user:password@localhost/smallchat",
            "DATABASE_URL needs a database driver that is not installed (psycopg). "
            'For PostgreSQL: pip install "psycopg[binary]" and use postgresql+psycopg://…',
            id="driver-missing",
            marks=pytest.mark.skipif(find_spec("psycopg") is not None, reason="psycopg is installed here"),
        ),
    ],
)
def test_a_database_url_that_cannot_be_used_is_explained(database_url: str, words: str) -> None:
    with pytest.raises(StorageError) as raised:
        create_db_engine(database_url)
    assert str(raised.value) == words
