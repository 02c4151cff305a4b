"""inbox of incoming updates; last command menu set per chat

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every update fetched from Telegram is written here before it is handled, so a crash
    # between fetching and handling loses nothing (issue 9 item 14, issue 14 item 5).
    op.create_table(
        "inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("handled_at", store.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_status", ["status", "update_id"], unique=False)
        batch_op.create_index("ix_inbox_handled_at", ["handled_at"], unique=False)

    # The fingerprint of the command menu last set in each chat: start-up only sets changed menus.
    op.create_table(
        "menu_states",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("set_at", store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_menu_states")),
    )


def downgrade() -> None:
    op.drop_table("menu_states")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_handled_at")
        batch_op.drop_index("ix_inbox_status")
    op.drop_table("inbox")
