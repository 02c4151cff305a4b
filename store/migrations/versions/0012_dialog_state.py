"""dialog_state: ConversationHandler states, chat_data and user_data (issue 14)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A dialog's state in the database: it survives a restart and a fail-over, and another
    # instance can finish it (bot.runtime.persistence).
    op.create_table(
        "dialog_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", "scope", "name", name=op.f("pk_dialog_state")),
    )


def downgrade() -> None:
    op.drop_table("dialog_state")
