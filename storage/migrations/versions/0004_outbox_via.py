"""Outbox rows name the sender they are for, so a console run never consumes Telegram's messages.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("via", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("via")
