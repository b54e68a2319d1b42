"""Create the SQLAlchemy engine: SQLite gets its folder and pragmas; other databases are used as given."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str) -> Engine:
    """Create an engine for a database URL, creating the SQLite file's folder if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _use_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_WAL_ATTEMPTS = 60  # ~18 s of waiting in all


def _use_wal(cursor: Any) -> None:
    # Switching a database to WAL needs an exclusive lock, and SQLite answers "database is locked" at once,
    # without waiting out busy_timeout, while another connection holds the database (workers opening a
    # new database together). The mode is stored in the file: once one has switched it, reading finds it.
    for attempt in range(1, _WAL_ATTEMPTS + 1):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)


def redacted(url: str) -> str:
    """Return the URL with any password hidden, for logs and errors."""
    return make_url(url).render_as_string(hide_password=True)
