"""inbox.receiver: which instance received an update (webhook mode with several instances)

The leader takes over an unfinished update only when the instance that received it is gone: each
instance holds a session advisory lock on its own key (bot.runtime.leader.PgLeadership.instance_key)
for as long as it lives, and the row names that key. A slow but living instance keeps its update.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("receiver", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("receiver")
