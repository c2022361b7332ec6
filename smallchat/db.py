"""Engine creation, SQLite pragmas and schema migrations applied at start-up."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from smallchat.errors import StorageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_POOL_SIZE = 20


def create_db_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; for SQLite with foreign keys, WAL and a busy timeout."""
    try:
        url = make_url(database_url)
    except Exception:
        raise StorageError(f"DATABASE_URL is not a valid database URL: {database_url!r}.") from None
    if url.get_backend_name() != "sqlite":
        try:
            return create_engine(url, pool_pre_ping=True)
        except NoSuchModuleError:
            raise StorageError(
                f"DATABASE_URL names a kind of database SmallChat does not know: {url.drivername}. "
                "Use sqlite:///path/to/chat.db or postgresql+psycopg://user:password@host/db."
            ) from None
        except ImportError as missing:
            raise StorageError(
                f"DATABASE_URL needs a database driver that is not installed ({missing.name}). "
                'For PostgreSQL: pip install "psycopg[binary]" and use postgresql+psycopg://…'
            ) from None

    _check_sqlite_location(url.database)
    # Streamlit reruns and API requests run on different threads; each checks out its own
    # pooled connection, so sharing the engine across threads is safe.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # Transactions are short and never span a provider call, so a fixed set of connections
        # serves many concurrent chats. Overflow connections would be opened (with the pragmas
        # below) and closed again for every request beyond the pool under load.
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=0,
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
    try:
        path = Path(database).expanduser().resolve()
        folder = path.parent
        folder_exists = folder.is_dir()
        file_exists = folder_exists and path.exists()
    except OSError as error:
        # A folder on the way that this user may not enter (no x permission): pathlib raises
        # PermissionError rather than answering, so say what the operating system said.
        raise StorageError(
            f"The database at {database} cannot be reached ({error.strerror or error}). "
            "Check the folder's permissions or change DATABASE_URL."
        ) from None
    if not folder_exists:
        raise StorageError(f"The folder for the database does not exist: {folder}. Create it or change DATABASE_URL.")
    if file_exists and not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(f"The database file {path} is read-only. Make it writable or change DATABASE_URL.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"The folder {folder} is read-only, so the database (and SQLite's journal beside it) "
            "cannot be written. Make it writable or change DATABASE_URL."
        )


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a database that fails under our feet (locked, read-only, broken) into a StorageError."""
    try:
        yield
    except IntegrityError:
        raise  # a broken invariant is a bug to see, not a condition to explain
    except DatabaseError as error:
        reason = str(getattr(error, "orig", None) or error).strip()
        if "locked" in reason or "busy" in reason:
            message = (
                "The chat history database is busy: another program kept it locked for more than "
                f"{SQLITE_BUSY_TIMEOUT_MS / 1000:g} seconds. Nothing was changed; try again in a moment."
            )
        elif "readonly" in reason or "read-only" in reason:
            message = (
                "The chat history database has become read-only, so nothing can be saved. Make it "
                "writable (or change DATABASE_URL) and reload the page."
            )
        else:
            message = f"The chat history database could not be used ({reason}). Check DATABASE_URL."
        raise StorageError(message) from error


class Transactions:
    """Short read and write transactions on one engine, with database failures in words.

    Shared by the stores of one process, so that their writers queue on one lock.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write_engine = writer(engine)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        # On SQLite, this process's writers queue here and are woken in turn the moment the
        # lock is free. Left to SQLite's busy handler they would poll with sleeps of up to
        # 100 ms, and under many concurrent requests those sleeps, not the writes, set the pace.
        # Other processes (the chat page beside the API) still meet the busy timeout.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with storage_errors(), self._read() as db:
            yield db

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE on SQLite), after this process's earlier writers."""
        with storage_errors(), self._write_lock, self._write.begin() as db:
            yield db

    @contextmanager
    def reading_statements(self) -> Iterator[Connection]:
        """One read transaction for Core statements on a plain connection (no ORM session)."""
        with storage_errors(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def writing_statements(self) -> Iterator[Connection]:
        """The same, for Core statements on a plain connection (no ORM unit of work)."""
        with storage_errors(), self._write_lock, self._write_engine.begin() as connection:
            yield connection


# The newest migration. A database already at this revision is opened without loading
# Alembic at all (start-up time); tests/test_migrations.py keeps it equal to Alembic's head.
SCHEMA_HEAD = "0003"


def upgrade_database(engine: Engine) -> None:
    """Bring the schema up to date: nothing to do at head, create it when new, else migrate."""
    try:
        # A read first: the usual case, a database at head, then takes no write lock at all.
        with engine.connect() as connection:
            if _schema_version(connection) == SCHEMA_HEAD:
                return
        with writer(engine).begin() as connection:
            version = _schema_version(connection)
            if version == SCHEMA_HEAD:
                return  # another process got there first
            if version is None and not inspect(connection).get_table_names():
                # A new database: create the head schema directly and record its revision,
                # as `alembic stamp head` would; the migrations exist for older databases.
                from smallchat.models import Base

                Base.metadata.create_all(connection)
                connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
                connection.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": SCHEMA_HEAD}
                )
                return
            run_migrations(connection)
    except SQLAlchemyError as error:
        detail = getattr(error, "orig", None) or error
        raise StorageError(f"The database could not be opened or upgraded ({detail}). Check DATABASE_URL.") from error


def _schema_version(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def run_migrations(connection: Connection) -> None:
    """Apply every Alembic migration the database does not have yet."""
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as error:
        # Typically a revision this code does not know: the database was upgraded by a newer
        # SmallChat. Refuse it whole rather than run against a schema it cannot read.
        raise StorageError(
            f"The database's schema is not one this version of SmallChat knows ({error}). It was probably "
            "upgraded by a newer SmallChat: run that version, or point DATABASE_URL at another database."
        ) from error
