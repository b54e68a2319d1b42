"""The whole database schema, on one screen (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("storage: naive datetime given; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

feeds = Table(
    "feeds",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("name", String(300), nullable=False, default=""),
    Column("etag", String(1024)),
    Column("last_modified", String(200)),
    Column("last_polled", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_error", Text),
    Column("error_count", Integer, nullable=False, default=0),
    Column("items_seen", Integer, nullable=False, default=0),
    Column("next_poll", UTCDateTime()),
    Column("fetch_url", String(2048)),  # where the feed lives now: a permanent redirect, or found on a page
    Column("poll_interval", Integer),  # seconds: the adaptive interval
    Column("lease_owner", String(64)),  # the poller polling it now, until lease_until
    Column("lease_until", UTCDateTime()),
    Column("active", Boolean, nullable=False, default=True),  # still listed in the rule files
    Index("ix_feeds_next_poll", "next_poll"),
)

stories = Table(
    "stories",
    metadata,
    Column("id", String(512), primary_key=True),
    Column("canonical_url", String(2048), unique=True),  # NULL when the story has no link
    Column("url", String(2048), nullable=False, default=""),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("source", String(300), nullable=False, default=""),
    Column("feed", String(2048), nullable=False, default=""),
    Column("published", UTCDateTime()),
    Column("fetched_at", UTCDateTime(), nullable=False),
    Column("cluster_id", String(512), nullable=False),
    Index("ix_stories_fetched_at", "fetched_at"),
    Index("ix_stories_cluster_id", "cluster_id"),
)

matches = Table(
    "matches",
    metadata,
    Column("story_id", String(512), ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("rule", String(100), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("term", String(500), nullable=False),
    Column("field", String(10), nullable=False),
    Column("text", String(500), nullable=False),
    Column("score", Float, nullable=False),
    Column("span_start", Integer, nullable=False, default=0),
    Column("span_end", Integer, nullable=False, default=0),
    Index("ix_matches_rule", "rule"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("chat", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("plain_text", Text, nullable=False, default=""),
    Column("disable_preview", Boolean, nullable=False, default=True),
    Column("status", String(10), nullable=False, default="pending"),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("not_before", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("last_error", Text),
    Column("via", String(20)),  # the sender it is for ("telegram", "console"); NULL: whichever runs
    Column("claim", String(36)),  # the sender that holds the message, until claimed_until
    Column("claimed_until", UTCDateTime()),
    Column("photo", LargeBinary),  # a PNG sent with `text` as its caption (weekly trends chart)
    Index("ix_outbox_status", "status"),
)

digests = Table(
    "digests",
    metadata,
    Column("chat", String(100), primary_key=True),
    Column("last_until", UTCDateTime(), nullable=False),
)

chats = Table(
    "chats",
    metadata,
    Column("chat", String(100), primary_key=True),
    Column("kind", String(20), nullable=False, default="private"),
    Column("title", String(300), nullable=False, default=""),
    Column("timezone", String(64), nullable=False, default="Europe/London"),
    Column("digest_at", String(5), nullable=False, default="08:00"),
    Column("paused", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("chat", String(100), ForeignKey("chats.chat", ondelete="CASCADE"), primary_key=True),
    Column("rule", String(200), primary_key=True),
    Column("mode", String(10), nullable=False, default="both"),  # alert | digest | both
    Column("phrase", String(200)),  # set for a personal /track phrase; the rule id is then track:<phrase>
)
