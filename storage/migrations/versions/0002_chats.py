"""Telegram chats and their subscriptions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("chat", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("digest_at", sa.String(5), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_chats"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("chat", sa.String(100), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("phrase", sa.String(200)),
        sa.ForeignKeyConstraint(
            ["chat"], ["chats.chat"], name="fk_subscriptions_chat_chats", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat", "rule", name="pk_subscriptions"),
    )


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("chats")
