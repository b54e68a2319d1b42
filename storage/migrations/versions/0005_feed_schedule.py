"""Feeds carry their own schedule and a lease, so any number of pollers can share them.

`fetch_url`: where the feed now lives (a permanent redirect, or the feed found on a web page);
`poll_interval`: the adaptive interval in seconds; `lease_owner`/`lease_until`: the poller polling it now;
`active`: whether the rule files still list it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("fetch_url", sa.String(2048)))
        batch.add_column(sa.Column("poll_interval", sa.Integer))
        batch.add_column(sa.Column("lease_owner", sa.String(64)))
        batch.add_column(sa.Column("lease_until", UTCDateTime()))
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_index("ix_feeds_next_poll", "feeds", ["next_poll"])


def downgrade() -> None:
    op.drop_index("ix_feeds_next_poll", table_name="feeds")
    with op.batch_alter_table("feeds") as batch:
        for column in ("active", "lease_until", "lease_owner", "poll_interval", "fetch_url"):
            batch.drop_column(column)
