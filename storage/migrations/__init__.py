"""Alembic migrations for newsbot's schema; `migrate(engine)` brings a database to the latest version.

Alembic (11 MB of RSS) is imported only when a database needs migrating: the revision a database is at is
read from `alembic_version` with plain SQLAlchemy and compared with `HEAD`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from bot.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent
# The newest revision in versions/; adding a migration means updating it (a test compares it with Alembic's).
HEAD = "0006"
VERSION_TABLE = "alembic_version"  # Alembic's default, where it records the revision a database is at
# pg_advisory_xact_lock key that serialises migrations among workers starting together (any fixed bigint).
MIGRATION_LOCK = 0x6E657773626F74  # "newsbot"


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to `revision` (default: the latest), one process at a time."""
    with engine.begin() as connection:
        _lock(connection)
        # Decided under the lock: a worker that waited for another's migration finds the schema current.
        if current_revision(connection) == (HEAD if revision == "head" else revision):
            return
        _upgrade(engine, connection, revision)


def _upgrade(engine: Engine, connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

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
    # What alembic's MigrationContext.get_current_revision reads, without importing alembic.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(revisions) > 1:
        raise StorageError(
            f"storage: the database records several schema revisions ({', '.join(sorted(revisions))}); "
            "newsbot's migrations are one line"
        )
    return revisions[0] if revisions else None


def head_revision() -> str:
    """Return the latest schema revision this code knows."""
    return HEAD


def _lock(connection: Connection) -> None:
    # Two workers migrating at once would both try to create the same tables. PostgreSQL: an advisory
    # lock held to the end of the (transactional) migration; the second worker then finds the schema
    # current. SQLite: take the write lock at BEGIN instead of at the first write.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
