"""Outbox messages may carry a photo (the weekly trends chart), sent with the text as its caption.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("photo", sa.LargeBinary()))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("photo")
