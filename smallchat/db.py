"""Engine creation, SQLite pragmas and schema migrations applied at start-up."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from smallchat.errors import StorageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_db_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; for SQLite with foreign keys, WAL and a busy timeout."""
    try:
        url = make_url(database_url)
    except Exception:
        raise StorageError(f"DATABASE_URL is not a valid database URL: {database_url!r}.") from None
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    _check_sqlite_location(url.database)
    # Streamlit reruns and API requests run on different threads; each checks out its own
    # pooled connection, so sharing the engine across threads is safe.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _set_sqlite_pragmas)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def writer(engine: Engine) -> Engine:
    """The engine to use for write transactions.

    On SQLite they start with BEGIN IMMEDIATE: taking the write lock up front lets the busy
    timeout queue concurrent writers, where a read transaction that later upgrades to a
    write would fail at once with "database is locked".
    """
    return engine.execution_options(smallchat_write=True)


def _begin_sqlite_transaction(connection: object) -> None:
    write = connection.get_execution_options().get("smallchat_write", False)  # type: ignore[attr-defined]
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[attr-defined]


def _set_sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own would be deferred).
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _check_sqlite_location(database: str | None) -> None:
    """Fail early, in words, when the database file or its folder cannot be written."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser().resolve()
    folder = path.parent
    if not folder.is_dir():
        raise StorageError(f"The folder for the database does not exist: {folder}. Create it or change DATABASE_URL.")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(f"The database file {path} is read-only. Make it writable or change DATABASE_URL.")
    if not os.access(folder, os.W_OK):
        raise StorageError(
            f"The folder {folder} is read-only, so the database (and SQLite's journal beside it) "
            "cannot be written. Make it writable or change DATABASE_URL."
        )


def upgrade_database(engine: Engine) -> None:
    """Bring the schema up to date with the Alembic migrations (creates it on first run)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        # BEGIN IMMEDIATE on SQLite: two processes starting at once on a new database (the chat
        # page and the API) take turns, where a deferred transaction would fail as "locked".
        with writer(engine).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as error:
        detail = getattr(error, "orig", None) or error
        raise StorageError(f"The database could not be opened or upgraded ({detail}). Check DATABASE_URL.") from error
