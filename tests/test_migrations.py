"""The schema: migrations and the model agree, and new and migrated databases end up the same."""

from __future__ import annotations

import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from smallchat.db import MIGRATIONS_DIR, SCHEMA_HEAD, create_db_engine, run_migrations, upgrade_database
from smallchat.models import Base


def alembic_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_schema_head_is_the_newest_migration() -> None:
    assert alembic_head() == SCHEMA_HEAD


# SQLite cannot reflect an index on an expression (the analytics index on date(created_at)), so
# the comparison leaves it out and the test checks its definition directly.
EXPRESSION_INDEX = "ix_messages_usage"


def index_definition(connection, name: str) -> str:
    return connection.execute(text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": name}).scalar()


def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with migrated.begin() as connection:
        run_migrations(connection)
    created = create_db_engine(f"sqlite:///{tmp_path / 'created.db'}")
    upgrade_database(created)

    def comparable(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
        return name != EXPRESSION_INDEX

    with migrated.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f".*expression-based index .?{EXPRESSION_INDEX}")
        context = MigrationContext.configure(connection, opts={"include_object": comparable})
        assert compare_metadata(context, Base.metadata) == []
        migrated_index = index_definition(connection, EXPRESSION_INDEX)
    with created.connect() as connection:
        created_index = index_definition(connection, EXPRESSION_INDEX)
    normalise = lambda sql: " ".join(sql.replace('"', "").split()).lower()  # noqa: E731
    assert "date(created_at)" in normalise(migrated_index)
    assert normalise(migrated_index) == normalise(created_index)


def test_a_new_database_is_created_at_head_without_migrating(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade_database(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        tables = set(inspect(connection).get_table_names())
    assert tables == {*Base.metadata.tables, "alembic_version"}


def test_opening_a_database_at_head_twice_changes_nothing(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'twice.db'}")
    upgrade_database(engine)
    upgrade_database(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
