"""Alembic migrations for newsbot's schema; `migrate(engine)` brings a database to the latest version."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from bot.errors import StorageError

HERE = Path(__file__).parent
# pg_advisory_xact_lock key that serialises migrations among workers starting together (any fixed bigint).
MIGRATION_LOCK = 0x6E657773626F74  # "newsbot"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (default: the latest), one process at a time."""
    with engine.begin() as connection:
        _lock(connection)
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        current = current_revision(connection)
        script = ScriptDirectory.from_config(config)
        if current is not None and current not in {r.revision for r in script.walk_revisions()}:
            raise StorageError(
                f"storage: the database schema is at revision {current}, which this newsbot does not know "
                f"(its latest is {script.get_current_head()}): a newer newsbot has upgraded it; upgrade newsbot"
            )
        command.upgrade(config, revision)


def current_revision(connection: Connection) -> str | None:
    """Return the database's schema revision, or None for a database never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """Return the latest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "storage: no migrations found"
    return head


def _lock(connection: Connection) -> None:
    # Two workers migrating at once would both try to create the same tables. PostgreSQL: an advisory
    # lock held to the end of the (transactional) migration; the second worker then finds the schema
    # current. SQLite: take the write lock at BEGIN instead of at the first write.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
