"""dialog_state: drop the user_data rows; the bot keeps nothing per user

A dialog's answers are its chat's (``handlers.context.ChatData``), and nothing ever stored anything
in user_data, so the rows held empty dicts at most. The persistence no longer reads or writes them.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM dialog_state WHERE scope = 'user'")


def downgrade() -> None:
    pass  # nothing to restore: the rows held no data anyone used
