"""Catalogue: the process killed mid-reply, a database that cannot be written or is held by someone else."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from smallchat import errors
from smallchat.chat import send_message
from smallchat.config import Settings
from smallchat.db import create_db_engine, upgrade_database
from smallchat.repository import ChatStore
from tests.apptest_helpers import ROOT, configure_app, run_app, shown
from tests.fake_provider import FakeProvider, Reply
from tests.reliability.conftest import stored

NOBODY = 65534
SUBPROCESS_SECONDS = 60


def child_environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """The child's next line, waiting at most until ``deadline`` (a bounded wait, never a hang)."""
    remaining = deadline - time.monotonic()
    ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
    if not ready:
        raise AssertionError("the child said nothing in time")
    return process.stdout.readline().strip()


def test_kill_9_while_a_reply_streams_keeps_the_message_and_a_sound_database(
    store: ChatStore, settings: Settings, provider: FakeProvider, session_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = [f"word{number} " for number in range(40)]
    provider.script(Reply(chunks=words, chunk_delay_seconds=0.1))
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.send_until_killed",
            *(settings.database_url, settings.base_url, session_id, "Tell me a long story"),
        ],
        cwd=ROOT,
        env=child_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + SUBPROCESS_SECONDS
        assert read_line(child, deadline) == "SAVED"
        assert [read_line(child, deadline) for _ in range(3)] == ["PART"] * 3  # mid-reply for sure
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=SUBPROCESS_SECONDS) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()

    # The restart: a new engine on the same file, migrations run as at every start-up.
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    restarted = ChatStore(engine)
    # Replies are saved when they end: the killed one is absent, the user's message is there.
    assert stored(restarted, session_id) == [("user", "Tell me a long story")]
    engine.dispose()

    # And the page offers to send it again, which answers it once.
    configure_app(monkeypatch, settings)
    app = run_app(session_id=session_id)
    assert not app.exception
    assert app.warning[0].value == "This message got no reply yet."
    app = app.button(key="retry").click().run()
    assert not app.exception
    assert stored(store, session_id) == [("user", "Tell me a long story"), ("assistant", "Echo: Tell me a long story")]


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's own temp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="smallchat-readonly-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)  # so that root's cleanup, and anyone's, can remove it
    shutil.rmtree(folder, ignore_errors=True)


def prepare(folder: Path, *, file_mode: int | None, folder_mode: int) -> Path:
    """A database in ``folder/db`` with the given modes, owned by the user the page will run as."""
    database_folder = folder / "db"
    database_folder.mkdir()
    database = database_folder / "chat.db"
    if file_mode is not None:
        engine = create_db_engine(f"sqlite:///{database}")
        upgrade_database(engine)
        engine.dispose()
        for journal in database_folder.glob("chat.db-*"):
            journal.unlink()
    if os.geteuid() == 0:
        for path in [database_folder, *database_folder.iterdir()]:
            os.chown(path, NOBODY, NOBODY)
    if file_mode is not None:
        database.chmod(file_mode)
    database_folder.chmod(folder_mode)
    return database


def open_page_unprivileged(database: Path, settings: Settings) -> dict[str, object]:
    if os.geteuid() == 0 and not hasattr(os, "setuid"):
        pytest.skip("running as root on a system without setuid: permissions cannot be tested")
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.open_app_as_nobody", f"sqlite:///{database}"],
        cwd=ROOT,
        env=child_environment(AI_API_KEY="sk-unused-0123456789", AI_BASE_URL=settings.base_url),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_SECONDS,
        check=False,
    )
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("root here may not switch users (no CAP_SETUID): permissions cannot be tested")
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["uid"] != 0  # the point of the case: root would write through any mode
    return outcome


@pytest.mark.parametrize(
    ("file_mode", "folder_mode", "reason"),
    [
        pytest.param(0o444, 0o755, "The database file {database} is read-only.", id="read-only-file"),
        pytest.param(
            0o644,
            0o555,
            "The folder {folder} is read-only, so the database (and SQLite's journal beside it) cannot be written.",
            id="read-only-folder",
        ),
        pytest.param(
            None, 0o555, "The folder {folder} is read-only, so the database", id="read-only-folder-no-database-yet"
        ),
        pytest.param(
            0o644, 0o600, "The database at {database} cannot be reached (Permission denied).", id="folder-not-enterable"
        ),
    ],
)
def test_database_that_cannot_be_written_stops_the_page_at_start_up_in_words(
    shared_folder: Path, settings: Settings, file_mode: int | None, folder_mode: int, reason: str
) -> None:
    database = prepare(shared_folder, file_mode=file_mode, folder_mode=folder_mode)
    outcome = open_page_unprivileged(database, settings)
    assert outcome["exception"] == []
    assert outcome["chat_input"] == 0  # stopped at start-up: no first message can fail later
    [error] = outcome["errors"]
    expected = "The chat history database cannot be used. " + reason.format(database=database, folder=database.parent)
    assert shown(error).startswith(expected)


def test_file_that_is_not_a_database_stops_the_page_in_words(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(settings.database_url.removeprefix("sqlite:///")).write_text("these are my notes, not a database\n" * 200)
    configure_app(monkeypatch, settings)
    app = run_app()
    assert not app.exception
    assert shown(app.error[0].value) == (
        "The chat history database cannot be used. The database could not be opened or upgraded "
        "(file is not a database). Check DATABASE_URL."
    )


@pytest.fixture
def impatient_store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatStore]:
    """A store that waits 0.2 s, not 10 s, for a lock: the same code path, a shorter test."""
    monkeypatch.setattr("smallchat.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    yield ChatStore(engine)
    engine.dispose()


@pytest.fixture
def held_lock(settings: Settings, impatient_store: ChatStore) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock (a backup tool, a second app)."""
    other = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_database_locked_past_the_busy_timeout_is_explained_and_nothing_half_saved(
    impatient_store: ChatStore,
    held_lock: sqlite3.Connection,
    client: openai.OpenAI,
    settings: Settings,
    provider: FakeProvider,
) -> None:
    with pytest.raises(errors.StorageError) as raised:
        impatient_store.create_session(model=settings.model_name)
    assert str(raised.value) == (
        "The chat history database is busy: another program kept it locked for more than 0.2 seconds. "
        "Nothing was changed; try again in a moment."
    )
    held_lock.execute("ROLLBACK")
    session = impatient_store.create_session(model=settings.model_name)
    held_lock.execute("BEGIN IMMEDIATE")
    with pytest.raises(errors.StorageError):
        send_message(impatient_store, client, settings, session_id=session.id, text="hello")
    assert provider.chat_requests() == []  # the message could not be saved, so it was not sent
    held_lock.execute("ROLLBACK")
    send_message(impatient_store, client, settings, session_id=session.id, text="hello")
    assert stored(impatient_store, session.id) == [("user", "hello"), ("assistant", "Echo: hello")]
    held_lock.execute("BEGIN IMMEDIATE")  # for the fixture's ROLLBACK


def test_database_locked_while_the_page_starts_a_chat_is_a_message_not_a_traceback(
    held_lock: sqlite3.Connection, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_app(monkeypatch, settings)
    app = run_app()  # start-up only reads: the lock does not stop it
    assert not app.exception
    app = app.chat_input[0].set_value("hello").run()
    assert not app.exception
    assert any("database is busy" in error.value for error in app.error)
