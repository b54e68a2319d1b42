"""Copy one newsbot database into another, e.g. from SQLite to PostgreSQL when scaling out."""

from __future__ import annotations

from contextlib import closing

from sqlalchemy import Connection, Table, func, select, text

from bot.errors import StorageError
from storage.schema import metadata, outbox
from storage.store import Store, _insert_new, open_store

_BATCH = 1000


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row of a database into an empty one (both migrated first); return rows per table.

    Everything comes along: feeds and their schedules, stories and clusters (so nothing is alerted
    twice), matches, the outbox, digest marks, chats and their subscriptions. One transaction: the
    target gets all of it or nothing.
    """
    with closing(open_store(source_url)) as source, closing(open_store(target_url)) as target:
        if source.url == target.url:
            raise StorageError("storage: unable to copy a database onto itself")
        copied: dict[str, int] = {}

        _refuse_if_not_empty(target)
        with target._write("copy the database") as conn, source.engine.connect() as reader:
            for table in metadata.sorted_tables:  # parents before children
                copied[table.name] = _copy_table(reader, conn, table)
            last = conn.execute(select(func.max(outbox.c.id))).scalar()
            if conn.dialect.name == "postgresql" and last is not None:
                # The ids came as they were; new messages must be numbered after them.
                sequence = text("SELECT setval(pg_get_serial_sequence('outbox', 'id'), :last)")
                conn.execute(sequence, {"last": last})
        return copied


def _copy_table(reader: Connection, writer: Connection, table: Table) -> int:
    count = 0
    rows = reader.execute(select(table).order_by(*table.primary_key.columns)).mappings()
    while batch := [dict(row) for row in rows.fetchmany(_BATCH)]:
        count += len(_insert_new(writer, table, batch))
    return count


def _refuse_if_not_empty(target: Store) -> None:
    with target.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise StorageError(
                    f"storage: unable to copy into {target.url}: it already holds data ({table.name}); "
                    "copy into a new, empty database"
                )
