"""newsbot's persistence: SQLAlchemy Core over SQLite (default) or PostgreSQL, migrated with Alembic."""

from storage.store import (
    QueuedMessage,
    SchemaRevision,
    Stats,
    Store,
    StoredStory,
    open_store,
    schema_revision,
    upgrade_database,
)
from storage.transfer import copy_database

__all__ = [
    "QueuedMessage",
    "copy_database",
    "SchemaRevision",
    "Stats",
    "Store",
    "StoredStory",
    "open_store",
    "schema_revision",
    "upgrade_database",
]
