"""outbox: the items a message is about, routine parts held for one bundled message, reply look-up

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 13: routine notices wait for working hours and go out bundled per person; a reply to
    # a message lands on the item it named.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("bundle", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("bundled_into", sa.Integer(), nullable=True))
        batch_op.create_index("ix_outbox_chat_message", ["chat_id", "telegram_message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat_message")
        batch_op.drop_column("bundled_into")
        batch_op.drop_column("bundle")
        batch_op.drop_column("item_ids")
