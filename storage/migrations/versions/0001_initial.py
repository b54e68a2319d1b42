"""Initial schema: feeds, stories, matches, outbox, digests.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("url", sa.String(2048), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("etag", sa.String(1024)),
        sa.Column("last_modified", sa.String(200)),
        sa.Column("last_polled", UTCDateTime()),
        sa.Column("last_success", UTCDateTime()),
        sa.Column("last_error", sa.Text),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("items_seen", sa.Integer, nullable=False),
        sa.Column("next_poll", UTCDateTime()),
        sa.PrimaryKeyConstraint("url", name="pk_feeds"),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("canonical_url", sa.String(2048)),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("feed", sa.String(2048), nullable=False),
        sa.Column("published", UTCDateTime()),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("cluster_id", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        sa.UniqueConstraint("canonical_url", name="uq_stories_canonical_url"),
    )
    op.create_index("ix_stories_fetched_at", "stories", ["fetched_at"])
    op.create_index("ix_stories_cluster_id", "stories", ["cluster_id"])
    op.create_table(
        "matches",
        sa.Column("story_id", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("term", sa.String(500), nullable=False),
        sa.Column("field", sa.String(10), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("span_start", sa.Integer, nullable=False),
        sa.Column("span_end", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name="fk_matches_story_id_stories", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("story_id", "rule", name="pk_matches"),
    )
    op.create_index("ix_matches_rule", "matches", ["rule"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("chat", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("plain_text", sa.Text, nullable=False),
        sa.Column("disable_preview", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("not_before", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "digests",
        sa.Column("chat", sa.String(100), nullable=False),
        sa.Column("last_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_digests"),
    )


def downgrade() -> None:
    for table in ("digests", "outbox", "matches", "stories", "feeds"):
        op.drop_table(table)
