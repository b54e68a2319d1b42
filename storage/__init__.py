"""newsbot's persistence: SQLAlchemy Core over SQLite (default) or PostgreSQL, migrated with Alembic."""

from storage.store import QueuedMessage, Stats, Store, StoredStory, open_store

__all__ = ["QueuedMessage", "Stats", "Store", "StoredStory", "open_store"]
